import { stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import type { Readable } from 'node:stream';
import { join } from 'node:path';
import { SlipwayError } from '../../errors/index.js';
import { createMirrorCache, displayRepository, gitStream, gitText, gitTextOrNull, localRepositoryPath, type GitOptions } from '../../git/index.js';

/** What a ref names: the commit, and whether it is a branch, a tag or a bare commit. */
export type ResolvedRef = { sha: string; branch: string | null; tag: string | null };

export type CommitInfo = {
  message: string;
  authorName: string;
  authorEmail: string;
  /** ISO 8601. */
  timestamp: string;
  /** The first parent, null for a root commit. */
  parentSha: string | null;
};

/**
 * The server's questions about project repositories. A repository on this machine (a
 * path or a file:// URL) is read where it is: it is always up to date, and a mirror
 * would only copy it (a clone, then a fetch on every trigger). Others are answered from
 * the bare mirrors under `dir` (src/git's mirror cache: one per repository, never named
 * after its credentials): a mirror is cloned on first use and fetched (with --prune) by
 * resolveRef; fetches of one repository take turns, reads run alongside them, since git
 * updates refs atomically. Messages never contain the credentials of a URL.
 */
export type GitMirrors = {
  /** Fetches the repository, then resolves a branch, a tag (refs/heads/… and refs/tags/… too) or a full or short commit. NOT_FOUND when nothing matches. */
  resolveRef(repository: string, ref: string): Promise<ResolvedRef>;
  /** The file's text at the commit; null when the commit has no such file. */
  readFileAt(repository: string, sha: string, file: string): Promise<string | null>;
  commitInfo(repository: string, sha: string): Promise<CommitInfo>;
  /** Paths that differ between two commits; null when `before` is not in the mirror (a force push, an unknown commit). */
  changedPaths(repository: string, before: string, sha: string): Promise<string[] | null>;
  /** Every file path in the commit. */
  listPaths(repository: string, sha: string): Promise<string[]>;
  /**
   * A tar of the commit's tree (`git archive`), streamed as git writes it. A mirror
   * missing the commit is fetched first; NOT_FOUND when the repository no longer has it
   * (a force push or a deleted branch, then garbage collection).
   */
  archive(repository: string, sha: string): Promise<Readable>;
};

const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

const SHA = /^[0-9a-f]{4,40}$/i;

/** English messages (they reach API answers) and no password prompt of any kind. */
const SERVER_GIT_ENV = { GIT_ASKPASS: 'true', LC_ALL: 'C' };

export function createGitMirrors(options: { dir: string }): GitMirrors {
  const cache = createMirrorCache({ dir: options.dir, env: SERVER_GIT_ENV });

  /** Where git reads the repository: its own directory (local) or its mirror, and the arguments that name it. */
  type Place = { options: GitOptions; args: readonly string[] };

  async function place(repository: string, refresh: boolean): Promise<Place> {
    const local = localRepositoryPath(repository);
    if (local !== null) {
      // An explicit --git-dir: git must not search upwards from a path that is no repository into one that contains it.
      const dotGit = join(local, '.git');
      const gitDir = (await stat(dotGit).then(() => true, () => false)) ? dotGit : local;
      // cwd: any directory that exists (the repository may not); with --git-dir it names nothing.
      return { options: { cwd: tmpdir(), repository, isolated: true, env: SERVER_GIT_ENV }, args: [`--git-dir=${gitDir}`] };
    }
    const mirror = refresh ? await cache.refresh(repository) : await cache.open(repository);
    return { options: { cwd: mirror, repository, isolated: true, env: SERVER_GIT_ENV }, args: [] };
  }

  const run = (at: Place, args: readonly string[]): Promise<string> => gitText([...at.args, ...args], at.options);
  const runOrNull = (at: Place, args: readonly string[]): Promise<string | null> => gitTextOrNull([...at.args, ...args], at.options);

  async function revParse(at: Place, spec: string): Promise<string | null> {
    const out = await runOrNull(at, ['rev-parse', '--verify', '--quiet', `${spec}^{commit}`]);
    return out === null ? null : out.trim();
  }

  return {
    async resolveRef(repository, ref) {
      const at = await place(repository, true);
      const name = ref.replace(/^refs\/(heads|tags)\//, '');
      const kind = ref.startsWith('refs/tags/') ? 'tag' : ref.startsWith('refs/heads/') ? 'branch' : null;
      if (kind !== 'tag') {
        const sha = await revParse(at, `refs/heads/${name}`);
        if (sha !== null) return { sha, branch: name, tag: null };
      }
      if (kind !== 'branch') {
        const sha = await revParse(at, `refs/tags/${name}`);
        if (sha !== null) return { sha, branch: null, tag: name };
      }
      if (kind === null && SHA.test(name)) {
        const sha = await revParse(at, name);
        if (sha !== null) return { sha, branch: null, tag: null };
      }
      throw new SlipwayError('NOT_FOUND', `the repository ${displayRepository(repository)} has no branch, tag or commit "${ref}"`);
    },

    async readFileAt(repository, sha, file) {
      // One process: cat-file fails (128) when the path is missing or is not a file (a directory, a submodule).
      return runOrNull(await place(repository, false), ['cat-file', 'blob', `${sha}:${file}`]);
    },

    async commitInfo(repository, sha) {
      const out = await run(await place(repository, false), ['log', '-1', '--format=%P%x00%an%x00%ae%x00%aI%x00%B', sha, '--']);
      const [parents = '', authorName = '', authorEmail = '', timestamp = '', ...message] = out.split('\u0000');
      return { parentSha: parents.trim().split(' ')[0] || null, authorName, authorEmail, timestamp, message: message.join('\u0000').trim() };
    },

    async changedPaths(repository, before, sha) {
      const at = await place(repository, false);
      if ((await revParse(at, before)) === null) return null;
      const out = await run(at, ['diff', '--name-only', '-z', '--no-renames', before, sha, '--']);
      return out.split('\u0000').filter((p) => p !== '');
    },

    async archive(repository, sha) {
      const gone = (): SlipwayError =>
        new SlipwayError('NOT_FOUND', `commit ${sha.slice(0, 8)} is no longer in ${displayRepository(repository)} (a force push or a deleted branch removed it); start a new build`);
      if (!FULL_SHA.test(sha)) throw gone();
      let at = await place(repository, false);
      if ((await revParse(at, sha)) === null) {
        // A local repository is read where it is: nothing to fetch.
        if (localRepositoryPath(repository) !== null) throw gone();
        at = await place(repository, true);
        if ((await revParse(at, sha)) === null) throw gone();
      }
      return gitStream([...at.args, 'archive', '--format=tar', sha], at.options);
    },

    async listPaths(repository, sha) {
      const out = await run(await place(repository, false), ['ls-tree', '-r', '--name-only', '-z', sha]);
      return out.split('\u0000').filter((p) => p !== '');
    },
  };
}
