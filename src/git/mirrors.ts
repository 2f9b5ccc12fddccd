import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { SlipwayError } from '../errors/index.js';
import { cloneSource, displayRepository, repositoryName } from './repository.js';
import { git, gitTextOrNull, type BaseEnv, type GitOptions } from './run.js';

/** What a caller brings to one mirror operation. */
export type MirrorCall = {
  signal?: AbortSignal;
  killGraceMs?: number;
  /** Told what is being done, for a job's log ("Creating a mirror of…", "Fetching…"). */
  say?: (line: string) => void;
};

/**
 * Bare mirrors of repositories under one directory, one per repository: its readable
 * name plus a hash of where it comes from (so a URL with credentials never becomes a
 * path). Messages never show the credentials of a URL.
 *
 * Concurrency: clones and fetches of one mirror take turns within this process (also
 * across caches on the same directory); reads of a mirror (cat-file, rev-parse, a
 * `clone --shared` from it) run alongside them, since git updates refs atomically.
 * Against another process using the same directory (two agents, the server and
 * `slipway run`): a mirror is cloned into a temporary directory and renamed into place
 * (the loser of that race removes its copy and uses the winner's), and a fetch that
 * failed (git's ref locks keep concurrent fetches apart) is tried once more unless what
 * it was for has arrived meanwhile.
 */
export type MirrorCache = {
  /** The mirror's path, cloned first when there is none; never fetches an existing one. */
  open(repository: string, call?: MirrorCall): Promise<string>;
  /** The mirror's path after bringing it up to date: cloned, or fetched with --prune. */
  refresh(repository: string, call?: MirrorCall): Promise<string>;
  /**
   * The mirror's path once it holds commit (a full SHA): no fetch when it already does;
   * otherwise a fetch, then (servers that allow it serve a commit no ref points to) a
   * fetch of the commit itself. GIT_FAILED when the commit does not exist.
   */
  withCommit(repository: string, commit: string, call?: MirrorCall): Promise<string>;
};

/** Turns per mirror path: the tail of each mirror's queue. Module-wide, since a path is one resource however many caches name it. */
const turns = new Map<string, Promise<void>>();

/** `baseEnv` and `env`: the environment of every git command of this cache (see GitOptions). */
export function createMirrorCache(options: { dir: string; baseEnv: BaseEnv; env?: Readonly<Record<string, string>> }): MirrorCache {
  const dir = resolve(options.dir);

  function pathOf(repository: string): string {
    const source = cloneSource(repository);
    const hash = createHash('sha256').update(source).digest('hex').slice(0, 16);
    return join(dir, `${repositoryName(source) || 'repository'}-${hash}.git`);
  }

  function gitOptions(repository: string, cwd: string, call: MirrorCall): GitOptions {
    return { cwd, repository, isolated: true, baseEnv: options.baseEnv, env: options.env, signal: call.signal, killGraceMs: call.killGraceMs };
  }

  async function create(repository: string, mirror: string, call: MirrorCall): Promise<void> {
    call.say?.(`Creating a mirror of ${displayRepository(repository)}`);
    await mkdir(dir, { recursive: true });
    const temporary = `${mirror}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await git(['clone', '--mirror', '--quiet', '--', cloneSource(repository), temporary], gitOptions(repository, dir, call));
      await rename(temporary, mirror).catch((error: NodeJS.ErrnoException) => {
        // Another process renamed its mirror into place first: use that one.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
    } finally {
      await rm(temporary, { recursive: true, force: true });
    }
  }

  /** fetch --prune, once more after a failure (a lost ref-lock race) unless arrived() says it no longer matters. */
  async function fetch(repository: string, mirror: string, call: MirrorCall, arrived: () => Promise<boolean>): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await git(['fetch', '--prune', '--quiet', 'origin'], gitOptions(repository, mirror, call));
        return;
      } catch (error) {
        if (call.signal?.aborted === true || (await arrived())) return;
        if (attempt === 2) throw error;
      }
    }
  }

  return {
    async open(repository, call = {}) {
      const mirror = pathOf(repository);
      if (await exists(mirror)) return mirror;
      await inTurn(mirror, repository, call.signal, async () => {
        if (!(await exists(mirror))) await create(repository, mirror, call);
      });
      return mirror;
    },

    async refresh(repository, call = {}) {
      const mirror = pathOf(repository);
      await inTurn(mirror, repository, call.signal, async () => {
        if (!(await exists(mirror))) await create(repository, mirror, call);
        else await fetch(repository, mirror, call, async () => false);
      });
      return mirror;
    },

    async withCommit(repository, commit, call = {}) {
      const mirror = pathOf(repository);
      const hasCommit = async (): Promise<boolean> =>
        (await gitTextOrNull(['cat-file', '-e', `${commit}^{commit}`], gitOptions(repository, mirror, call))) !== null;
      if ((await exists(mirror)) && (await hasCommit())) return mirror;
      await inTurn(mirror, repository, call.signal, async () => {
        if (!(await exists(mirror))) await create(repository, mirror, call);
        // Whoever had the turn before may have brought the commit.
        if (await hasCommit()) return;
        call.say?.(`Fetching ${displayRepository(repository)}`);
        await fetch(repository, mirror, call, hasCommit);
        if (await hasCommit()) return;
        await gitTextOrNull(['fetch', '--quiet', 'origin', commit], gitOptions(repository, mirror, call));
        if (await hasCommit()) return;
        throw new SlipwayError('GIT_FAILED', `commit ${commit.slice(0, 8)} (${commit}) does not exist in ${displayRepository(repository)}`);
      });
      return mirror;
    },
  };
}

/** Whether the mirror is there: created by a rename, so a mirror with a HEAD is complete. */
async function exists(mirror: string): Promise<boolean> {
  return stat(join(mirror, 'HEAD')).then(() => true, () => false);
}

/** Runs fn once every earlier fn of this mirror has settled; a caller whose signal is aborted stops waiting. */
async function inTurn(mirror: string, repository: string, signal: AbortSignal | undefined, fn: () => Promise<void>): Promise<void> {
  const previous = turns.get(mirror) ?? Promise.resolve();
  let done = (): void => undefined;
  const mine = new Promise<void>((resolve) => {
    done = resolve;
  });
  const tail = previous.then(() => mine);
  turns.set(mirror, tail);
  void tail.then(() => {
    if (turns.get(mirror) === tail) turns.delete(mirror);
  });
  try {
    await untilSettled(previous, signal, repository);
    await fn();
  } finally {
    done();
  }
}

function untilSettled(turn: Promise<void>, signal: AbortSignal | undefined, repository: string): Promise<void> {
  if (signal === undefined) return turn;
  const canceled = (): SlipwayError =>
    new SlipwayError('GIT_FAILED', `canceled while waiting for another fetch of ${displayRepository(repository)}`);
  if (signal.aborted) return Promise.reject(canceled());
  return new Promise((resolve, reject) => {
    const onAbort = (): void => reject(canceled());
    signal.addEventListener('abort', onAbort, { once: true });
    void turn.then(() => {
      signal.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
