import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { SlipwayError } from '../../errors/index.js';

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
 * The server's bare mirrors of project repositories, one per repository URL under `dir`
 * (keyed by a hash of the URL, so a URL with credentials never becomes a path). A mirror
 * is cloned on first use and fetched (with --prune) by resolveRef; fetches of one
 * repository take turns (an in-process lock), reads run alongside them, since git updates
 * refs atomically. Messages never contain the credentials of a URL.
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

export function createGitMirrors(options: { dir: string }): GitMirrors {
  const locks = new Map<string, Promise<unknown>>();

  function mirrorOf(repository: string): string {
    return path.join(options.dir, `${createHash('sha256').update(repository).digest('hex').slice(0, 24)}.git`);
  }

  /** Runs fn after every earlier fn of the same key has settled. */
  function serialized<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = locks.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.then(() => undefined, () => undefined);
    locks.set(key, settled);
    void settled.then(() => {
      if (locks.get(key) === settled) locks.delete(key);
    });
    return next;
  }

  async function sync(repository: string): Promise<string> {
    const mirror = mirrorOf(repository);
    await serialized(mirror, async () => {
      if (await exists(path.join(mirror, 'HEAD'))) {
        await git(repository, mirror, ['fetch', '--prune', '--quiet', 'origin']);
      } else {
        await mkdir(options.dir, { recursive: true });
        await git(repository, options.dir, ['clone', '--mirror', '--quiet', '--', repository, mirror]);
      }
    });
    return mirror;
  }

  /** The mirror, cloned if it is not there yet (reads of a commit the mirror has need no fetch). */
  async function ready(repository: string): Promise<string> {
    const mirror = mirrorOf(repository);
    return (await exists(path.join(mirror, 'HEAD'))) ? mirror : sync(repository);
  }

  async function revParse(repository: string, mirror: string, spec: string): Promise<string | null> {
    const out = await gitOrNull(repository, mirror, ['rev-parse', '--verify', '--quiet', `${spec}^{commit}`]);
    return out === null ? null : out.trim();
  }

  return {
    async resolveRef(repository, ref) {
      const mirror = await sync(repository);
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
      const mirror = await ready(repository);
      const object = `${sha}:${file}`;
      const type = await gitOrNull(repository, mirror, ['cat-file', '-t', object]);
      if (type === null || type.trim() !== 'blob') return null;
      return git(repository, mirror, ['cat-file', 'blob', object]);
    },

    async commitInfo(repository, sha) {
      const mirror = await ready(repository);
      const out = await git(repository, mirror, ['log', '-1', '--format=%P%x00%an%x00%ae%x00%aI%x00%B', sha, '--']);
      const [parents = '', authorName = '', authorEmail = '', timestamp = '', ...message] = out.split('\u0000');
      return { parentSha: parents.trim().split(' ')[0] || null, authorName, authorEmail, timestamp, message: message.join('\u0000').trim() };
    },

    async changedPaths(repository, before, sha) {
      const mirror = await ready(repository);
      if ((await revParse(repository, mirror, before)) === null) return null;
      const out = await git(repository, mirror, ['diff', '--name-only', '-z', '--no-renames', before, sha, '--']);
      return out.split('\u0000').filter((p) => p !== '');
    },

    async listPaths(repository, sha) {
      const mirror = await ready(repository);
      const out = await git(repository, mirror, ['ls-tree', '-r', '--name-only', '-z', sha]);
      return out.split('\u0000').filter((p) => p !== '');
    },
  };
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}

/** Runs git non-interactively; a failure becomes GIT_FAILED with git's words, credentials removed. */
function git(repository: string, cwd: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      'git',
      args,
      // 256 MiB: a pipeline file or a path list is far smaller; this only bounds a runaway.
      { cwd, encoding: 'utf8', maxBuffer: 256 * 1024 * 1024, env: { ...process.env, GIT_TERMINAL_PROMPT: '0', GIT_ASKPASS: 'true', LC_ALL: 'C' } },
      (error, stdout, stderr) => {
        if (error === null) {
          resolve(stdout);
          return;
        }
        const detail = scrub(repository, stderr.trim() || error.message);
        const failure = new SlipwayError('GIT_FAILED', `git ${args[0] ?? ''} of ${displayRepository(repository)} failed: ${detail}`);
        (failure as { exitCode?: unknown }).exitCode = error.code;
        reject(failure);
      },
    );
  });
}

/** git() for questions whose "no" is an exit status of 1 or 128: null then. */
async function gitOrNull(repository: string, cwd: string, args: string[]): Promise<string | null> {
  try {
    return await git(repository, cwd, args);
  } catch (error) {
    const code = (error as { exitCode?: unknown }).exitCode;
    if (code === 1 || code === 128) return null;
    throw error;
  }
}

/** The repository as it may be printed: without the user and password of a URL. */
export function displayRepository(repository: string): string {
  try {
    const url = new URL(repository);
    if (url.username === '' && url.password === '') return repository;
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return repository; // not a URL: a path or scp-like user@host:path, which carries no password
  }
}

function scrub(repository: string, text: string): string {
  return text.split(repository).join(displayRepository(repository)).replace(/(\w+:\/\/)[^/@\s]+@/g, '$1');
}
