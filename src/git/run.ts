import { SlipwayError, messageOf } from '../errors/index.js';
import { ProcessGroup } from '../process/index.js';
import { displayRepository, withoutCredentials } from './repository.js';

/**
 * Running git through its command line (every machine that runs Slipway needs git).
 * git runs as the leader of a process group of its own, so that cancelling it also
 * ends what it started (ssh, git-remote-https, index-pack), and nothing it leaves
 * behind outlives the call.
 */
export type GitOptions = {
  cwd: string;
  /** Aborting ends git's whole process group: SIGTERM, then SIGKILL after killGraceMs. */
  signal?: AbortSignal;
  /** Default 5000: git exits on SIGTERM at once; the grace is for what it started. */
  killGraceMs?: number;
  /**
   * For repositories Slipway names by path (mirrors, checkouts, a job's source): the
   * variables that would point git at another repository (GIT_DIR...) are removed, and a
   * directory owned by another user (a bind mount, a container running as root) is
   * accepted. Left out for `slipway run` reading the user's repository as their git would.
   */
  isolated?: boolean;
  /** Variables set for git on top of this process's environment (the server: LC_ALL=C...). */
  env?: Readonly<Record<string, string>>;
  /** The repository the command concerns, named (without credentials) in a failure message. */
  repository?: string;
};

/** Variables that would point git at another repository than the one we name. */
const REPOSITORY_VARIABLES = [
  'GIT_DIR', 'GIT_WORK_TREE', 'GIT_INDEX_FILE', 'GIT_OBJECT_DIRECTORY', 'GIT_ALTERNATE_OBJECT_DIRECTORIES',
  'GIT_COMMON_DIR', 'GIT_NAMESPACE', 'GIT_PREFIX', 'GIT_CEILING_DIRECTORIES',
];
const DEFAULT_KILL_GRACE_MS = 5000;
/** 256 MiB: a pipeline file or a path list is far smaller; this only bounds a runaway. */
const MAX_STDOUT_BYTES = 256 * 1024 * 1024;
/** The tail of stderr is what explains a failure. */
const MAX_STDERR_CHARS = 64 * 1024;

/** Runs git and returns its stdout; throws GIT_FAILED (credential-free, naming the command) when it fails or is canceled. */
export async function git(args: readonly string[], options: GitOptions): Promise<Buffer> {
  const captured = await capture(args, options);
  if (captured.exitCode !== 0) throw failure(args, options, captured);
  return captured.stdout;
}

/** git() with its stdout as UTF-8 text. */
export async function gitText(args: readonly string[], options: GitOptions): Promise<string> {
  return (await git(args, options)).toString('utf8');
}

/**
 * For questions git answers "no" to by failing (rev-parse --verify, cat-file -e, a
 * missing config key): null when git exits with 1 or 128. Anything else (git missing,
 * canceled, killed) still throws GIT_FAILED.
 */
export async function gitTextOrNull(args: readonly string[], options: GitOptions): Promise<string | null> {
  const captured = await capture(args, options);
  if (captured.exitCode === 0) return captured.stdout.toString('utf8');
  if (captured.exitCode === 1 || captured.exitCode === 128) return null;
  throw failure(args, options, captured);
}

/** What a finished git run left; environment, canceled and failure are shared with stream.ts. */
type Captured = { exitCode: number | null; signal: NodeJS.Signals | null; stdout: Buffer; stderr: string };

/** Runs git to its end; rejects only when it cannot start, is canceled or prints too much. */
async function capture(args: readonly string[], options: GitOptions): Promise<Captured> {
  const { signal } = options;
  if (signal?.aborted === true) throw canceled(args);
  // Directories owned by another user are ours to read here; without this git refuses them.
  const fullArgs = options.isolated === true ? ['-c', 'safe.directory=*', ...args] : [...args];
  let group: ProcessGroup;
  try {
    group = await ProcessGroup.start('git', fullArgs, { cwd: options.cwd, env: environment(options) });
  } catch (error) {
    throw new SlipwayError('GIT_FAILED', `could not run git (the git command line is required): ${messageOf(error)}`, { cause: error });
  }
  const graceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  let stopped: 'canceled' | 'overflow' | null = null;
  const stop = (why: 'canceled' | 'overflow'): void => {
    if (stopped !== null) return;
    stopped = why;
    group.terminate(graceMs);
  };
  const onAbort = (): void => stop('canceled');
  signal?.addEventListener('abort', onAbort, { once: true });

  const stdout: Buffer[] = [];
  let stdoutBytes = 0;
  let stderr = '';
  group.child.stdout.on('data', (chunk: Buffer) => {
    stdoutBytes += chunk.length;
    if (stdoutBytes > MAX_STDOUT_BYTES) stop('overflow');
    else stdout.push(chunk);
  });
  group.child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-MAX_STDERR_CHARS);
  });
  try {
    const exit = await group.exited;
    await group.reap(graceMs);
    await group.drain();
    if (stopped === 'canceled') throw canceled(args);
    if (stopped === 'overflow') {
      throw new SlipwayError('GIT_FAILED', `git ${commandLine(args)} printed more than ${MAX_STDOUT_BYTES / 1024 / 1024} MiB`);
    }
    return { exitCode: exit.code, signal: exit.signal, stdout: Buffer.concat(stdout), stderr };
  } finally {
    signal?.removeEventListener('abort', onAbort);
    group.dispose();
  }
}

export function environment(options: GitOptions): NodeJS.ProcessEnv {
  // Never wait for a password on a terminal: there is nobody to type it for a job or the server.
  const env: NodeJS.ProcessEnv = { ...process.env, ...options.env, GIT_TERMINAL_PROMPT: '0' };
  if (options.isolated === true) for (const name of REPOSITORY_VARIABLES) delete env[name];
  return env;
}

/** The command as it may be printed: a repository URL among the arguments loses its user and password. */
function commandLine(args: readonly string[]): string {
  return args.map(displayRepository).join(' ');
}

export function canceled(args: readonly string[]): SlipwayError {
  return new SlipwayError('GIT_FAILED', `git ${commandLine(args)} was canceled`);
}

export function failure(args: readonly string[], options: GitOptions, captured: Pick<Captured, 'exitCode' | 'signal' | 'stderr'>): SlipwayError {
  const command = commandLine(args);
  // The message may reach a job log or an API answer: the last lines say why, without credentials.
  const tail = withoutCredentials(captured.stderr, options.repository).trim().split('\n').slice(-5).join('\n');
  const detail = tail !== '' ? tail : captured.signal !== null ? `killed by ${captured.signal}` : `exit status ${captured.exitCode ?? '?'}`;
  const shown = options.repository === undefined ? null : displayRepository(options.repository);
  const where = shown === null ? ` in ${options.cwd}` : command.includes(shown) ? '' : ` for ${shown}`;
  return new SlipwayError('GIT_FAILED', `git ${command} failed${where}: ${detail}`);
}
