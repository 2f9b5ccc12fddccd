import { SlipwayError } from '../../errors/index.js';
import { createMirrorCache, displayRepository, gitText, gitTextOrNull, type GitOptions } from '../../git/index.js';

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
 * The server's questions about project repositories, answered from the bare mirrors
 * under `dir` (src/git's mirror cache: one per repository, never named after its
 * credentials). A mirror is cloned on first use and fetched (with --prune) by
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
};

const SHA = /^[0-9a-f]{4,40}$/i;

/** English messages (they reach API answers) and no password prompt of any kind. */
const SERVER_GIT_ENV = { GIT_ASKPASS: 'true', LC_ALL: 'C' };

export function createGitMirrors(options: { dir: string }): GitMirrors {
  const cache = createMirrorCache({ dir: options.dir, env: SERVER_GIT_ENV });
  const inMirror = (repository: string, mirror: string): GitOptions => ({ cwd: mirror, repository, isolated: true, env: SERVER_GIT_ENV });

  async function revParse(repository: string, mirror: string, spec: string): Promise<string | null> {
    const out = await gitTextOrNull(['rev-parse', '--verify', '--quiet', `${spec}^{commit}`], inMirror(repository, mirror));
    return out === null ? null : out.trim();
  }

  return {
    async resolveRef(repository, ref) {
      const mirror = await cache.refresh(repository);
      const name = ref.replace(/^refs\/(heads|tags)\//, '');
      const kind = ref.startsWith('refs/tags/') ? 'tag' : ref.startsWith('refs/heads/') ? 'branch' : null;
      if (kind !== 'tag') {
        const sha = await revParse(repository, mirror, `refs/heads/${name}`);
        if (sha !== null) return { sha, branch: name, tag: null };
      }
      if (kind !== 'branch') {
        const sha = await revParse(repository, mirror, `refs/tags/${name}`);
        if (sha !== null) return { sha, branch: null, tag: name };
      }
      if (kind === null && SHA.test(name)) {
        const sha = await revParse(repository, mirror, name);
        if (sha !== null) return { sha, branch: null, tag: null };
      }
      throw new SlipwayError('NOT_FOUND', `the repository ${displayRepository(repository)} has no branch, tag or commit "${ref}"`);
    },

    async readFileAt(repository, sha, file) {
      const mirror = await cache.open(repository);
      const object = `${sha}:${file}`;
      const type = await gitTextOrNull(['cat-file', '-t', object], inMirror(repository, mirror));
      if (type === null || type.trim() !== 'blob') return null;
      return gitText(['cat-file', 'blob', object], inMirror(repository, mirror));
    },

    async commitInfo(repository, sha) {
      const mirror = await cache.open(repository);
      const out = await gitText(['log', '-1', '--format=%P%x00%an%x00%ae%x00%aI%x00%B', sha, '--'], inMirror(repository, mirror));
      const [parents = '', authorName = '', authorEmail = '', timestamp = '', ...message] = out.split('\u0000');
      return { parentSha: parents.trim().split(' ')[0] || null, authorName, authorEmail, timestamp, message: message.join('\u0000').trim() };
    },

    async changedPaths(repository, before, sha) {
      const mirror = await cache.open(repository);
      if ((await revParse(repository, mirror, before)) === null) return null;
      const out = await gitText(['diff', '--name-only', '-z', '--no-renames', before, sha, '--'], inMirror(repository, mirror));
      return out.split('\u0000').filter((p) => p !== '');
    },

    async listPaths(repository, sha) {
      const mirror = await cache.open(repository);
      const out = await gitText(['ls-tree', '-r', '--name-only', '-z', sha], inMirror(repository, mirror));
      return out.split('\u0000').filter((p) => p !== '');
    },
  };
}
