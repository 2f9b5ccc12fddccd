import { createHash, randomBytes } from 'node:crypto';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { SlipwayError, messageOf } from '../errors/index.js';
import { shortSha } from './format.js';
import { runCaptured } from './process-group.js';

/**
 * Git through its command line (the agent's image must have git). Every job on a
 * machine shares one bare mirror per repository under gitCacheDir; a job clones from
 * it with `--shared`, so a checkout costs a fetch only when the commit is new.
 *
 * Two jobs may prepare the same repository at once: a mirror is created in a
 * temporary directory and renamed into place (the loser of the race removes its copy
 * and uses the winner's), and git's own ref locks keep concurrent fetches apart (a
 * fetch that lost a lock race is retried, or found unnecessary).
 */

export type GitContext = { signal: AbortSignal; killGraceMs: number };

/** Variables that would point git at another repository than the one we name. */
const REPOSITORY_VARIABLES = [
  'GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR', 'GIT_NAMESPACE', 'GIT_PREFIX', 'GIT_CEILING_DIRECTORIES',
];

function gitEnvironment(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, GIT_TERMINAL_PROMPT: '0' };
  for (const name of REPOSITORY_VARIABLES) delete env[name];
  return env;
}

/** Runs git and returns its stdout; throws GIT_FAILED with the tail of its stderr. */
export async function git(args: readonly string[], cwd: string, context: GitContext): Promise<Buffer> {
  // Directories owned by another user (a bind mount, a container running as root)
  // are ours to read here; without this git refuses them.
  const fullArgs = ['-c', 'safe.directory=*', ...args];
  let captured;
  try {
    captured = await runCaptured('git', fullArgs, { cwd, env: gitEnvironment(), ...context });
  } catch (error) {
    throw new SlipwayError('GIT_FAILED', `could not run git (the git command line is required): ${messageOf(error)}`, {
      cause: error,
    });
  }
  if (captured.aborted) throw new SlipwayError('GIT_FAILED', `git ${args[0] ?? ''} was canceled`);
  if (captured.exit.code !== 0) {
    const detail = captured.stderr.trim().split('\n').slice(-5).join('\n');
    // A repository URL may carry a user and password: the message goes to the job log.
    const command = args.map(displayRepository).join(' ');
    throw new SlipwayError('GIT_FAILED', `git ${command} failed${detail === '' ? '' : `: ${detail}`}`);
  }
  return captured.stdout;
}

async function succeeds(args: readonly string[], cwd: string, context: GitContext): Promise<boolean> {
  try {
    await git(args, cwd, context);
    return true;
  } catch (error) {
    if (context.signal.aborted) throw error;
    return false;
  }
}

/** Whether repository is a path on this machine rather than a URL (https://, ssh://, user@host:path). */
function isLocalPath(repository: string): boolean {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(repository)) return false;
  const colon = repository.indexOf(':');
  const slash = repository.indexOf('/');
  return colon === -1 || (slash !== -1 && slash < colon);
}

/** Where git reads repository from: a local path made absolute, a URL as it is. */
function sourceOf(repository: string): string {
  return isLocalPath(repository) ? resolve(repository) : repository;
}

/** The last segment of a repository's path or URL without `.git`, usable in a file name ('' when there is none). */
export function repositoryName(repository: string): string {
  return basename(repository.replace(/[/\\]+$/, '')).replace(/\.git$/, '').replace(/[^A-Za-z0-9._-]/g, '-');
}

/** The repository as it may be printed: without the user and password of a URL. */
function displayRepository(repository: string): string {
  try {
    const url = new URL(repository);
    if (url.username === '' && url.password === '') return repository;
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return repository; // not a URL: a path or scp-like user@host:path
  }
}

/** Where the mirror of repository lives: readable name, plus a hash of where it comes from. */
function mirrorPath(gitCacheDir: string, repository: string): string {
  const identity = sourceOf(repository);
  const hash = createHash('sha256').update(identity).digest('hex').slice(0, 16);
  return join(gitCacheDir, `${repositoryName(identity) || 'repository'}-${hash}.git`);
}

/**
 * Makes sure the mirror of repository exists and holds commit; returns its path.
 * Throws GIT_FAILED when the repository cannot be read or the commit is not in it.
 */
export async function ensureMirror(
  repository: string,
  commit: string,
  gitCacheDir: string,
  context: GitContext,
  say: (line: string) => void,
): Promise<string> {
  const mirror = mirrorPath(gitCacheDir, repository);
  const shown = displayRepository(repository);
  if (!(await isDirectory(mirror))) {
    say(`Creating a mirror of ${shown}`);
    await mkdir(gitCacheDir, { recursive: true });
    const temporary = `${mirror}.tmp-${randomBytes(4).toString('hex')}`;
    try {
      await git(['clone', '--mirror', '--quiet', '--', sourceOf(repository), temporary], gitCacheDir, context);
      await rename(temporary, mirror).catch((error: NodeJS.ErrnoException) => {
        // Another job renamed its mirror into place first: use that one.
        if (error.code !== 'ENOTEMPTY' && error.code !== 'EEXIST') throw error;
      });
    } finally {
      await rm(temporary, { recursive: true, force: true });
    }
  }
  const hasCommit = (): Promise<boolean> => succeeds(['cat-file', '-e', `${commit}^{commit}`], mirror, context);
  if (await hasCommit()) return mirror;

  say(`Fetching ${shown}`);
  for (let attempt = 1; attempt <= 2; attempt += 1) {
    try {
      await git(['fetch', '--prune', '--quiet', 'origin'], mirror, context);
      break;
    } catch (error) {
      // A concurrent fetch holding a ref lock fails this one; it may have brought the commit.
      if (context.signal.aborted || (await hasCommit())) break;
      if (attempt === 2) throw error;
    }
  }
  if (await hasCommit()) return mirror;
  // Servers that allow it serve a commit no ref points to (a deleted branch, a merge request).
  await succeeds(['fetch', '--quiet', 'origin', commit], mirror, context);
  if (await hasCommit()) return mirror;
  throw new SlipwayError('GIT_FAILED', `commit ${shortSha(commit)} (${commit}) does not exist in ${shown}`);
}

/** Clones the mirror into dir and checks out commit, detached. */
export async function checkoutCommit(
  mirror: string,
  repository: string,
  commit: string,
  dir: string,
  context: GitContext,
): Promise<void> {
  await git(['clone', '--shared', '--no-checkout', '--quiet', '--', mirror, dir], resolve(dir, '..'), context);
  // Scripts that fetch or push should talk to the real repository, not the mirror.
  await git(['remote', 'set-url', 'origin', sourceOf(repository)], dir, context);
  await git(['-c', 'advice.detachedHead=false', 'checkout', '--detach', '--quiet', commit], dir, context);
}

async function isDirectory(path: string): Promise<boolean> {
  return (await stat(path).catch(() => null))?.isDirectory() ?? false;
}
