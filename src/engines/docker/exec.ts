import type Docker from 'dockerode';
import { demux } from './client.js';
import { waitUntil } from './wait.js';

/** Runs a command in a running container as root and waits for it; rejects when it exits non-zero. */
export async function execAsRoot(container: Docker.Container, cmd: string[]): Promise<void> {
  const exec = await container.exec({ Cmd: cmd, User: '0', AttachStdout: true, AttachStderr: true });
  const stream = await exec.start({ hijack: true, stdin: false });
  const output: Buffer[] = [];
  await new Promise<void>((resolve, reject) => {
    stream.on('data', (chunk: Buffer) => output.push(chunk));
    stream.on('end', resolve);
    stream.on('close', resolve);
    stream.on('error', reject);
  });
  // The stream can end a moment before the daemon records the exit code.
  const done = await waitUntil(async () => {
    const state = await exec.inspect();
    return state.Running ? undefined : state;
  });
  if (done.ExitCode !== 0) {
    const text = demux(Buffer.concat(output)).trim();
    throw new Error(`'${cmd.join(' ')}' exited with ${String(done.ExitCode)}${text === '' ? '' : `: ${text.slice(0, 500)}`}`);
  }
}
