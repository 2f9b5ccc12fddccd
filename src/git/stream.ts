import { PassThrough, type Readable } from 'node:stream';
import { SlipwayError, messageOf } from '../errors/index.js';
import { ProcessGroup } from '../process/index.js';
import { canceled, environment, failure, type GitOptions } from './run.js';

const DEFAULT_KILL_GRACE_MS = 5000;
const MAX_STDERR_CHARS = 64 * 1024;

/**
 * Runs git and hands back its stdout as a stream, for output too large to hold in
 * memory (`git archive` of a whole tree). git writes only as fast as the reader reads.
 * The stream ends when git exits 0; it is destroyed with GIT_FAILED (credential-free,
 * as git() throws) when git fails, and with a cancel error when the signal aborts.
 * Destroying the stream early (a client that went away) ends git's process group.
 * Rejects only when git cannot start.
 */
export async function gitStream(args: readonly string[], options: GitOptions): Promise<Readable> {
  const { signal } = options;
  if (signal?.aborted === true) throw canceled(args);
  const fullArgs = options.isolated === true ? ['-c', 'safe.directory=*', ...args] : [...args];
  let group: ProcessGroup;
  try {
    group = await ProcessGroup.start('git', fullArgs, { cwd: options.cwd, env: environment(options) });
  } catch (error) {
    throw new SlipwayError('GIT_FAILED', `could not run git (the git command line is required): ${messageOf(error)}`, { cause: error });
  }
  const graceMs = options.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  const { stdout, stderr: errors } = group.child;
  const out = new PassThrough();
  let stderr = '';
  let done = false;
  errors.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString('utf8')).slice(-MAX_STDERR_CHARS);
  });
  // The reader went away (or the signal fired) before git finished: stop git, and let
  // go of what it wrote and nobody will read, so its pipe closes.
  const stop = (): void => {
    if (done) return;
    group.terminate(graceMs);
    stdout.destroy();
  };
  out.once('close', stop);
  const onAbort = (): void => {
    out.destroy(canceled(args));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  stdout.pipe(out, { end: false });

  const finish = async (): Promise<void> => {
    try {
      const [exit] = await Promise.all([group.exited, closed(stdout), closed(errors)]);
      await group.reap(graceMs);
      done = true;
      if (out.destroyed) return;
      if (exit.code === 0) out.end();
      else out.destroy(failure(args, options, { exitCode: exit.code, signal: exit.signal, stderr }));
    } catch (error) {
      out.destroy(error instanceof Error ? error : new Error(messageOf(error)));
    } finally {
      signal?.removeEventListener('abort', onAbort);
      group.dispose();
    }
  };
  void finish();
  return out;
}

function closed(stream: Readable): Promise<void> {
  if (stream.closed) return Promise.resolve();
  return new Promise((resolve) => stream.once('close', () => resolve()));
}
