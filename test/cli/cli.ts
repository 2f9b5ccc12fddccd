import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** bin/slipway.js of this checkout (tests run from dist/test/cli/). */
export const slipwayBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/slipway.js');

export type RunOutput = { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };

/** Starts the real `slipway` command; `done` resolves when it exits. */
export function startSlipway(
  args: string[],
  options: { cwd: string; env?: Record<string, string> },
): { process: ChildProcess; done: Promise<RunOutput> } {
  const child = spawn(process.execPath, [slipwayBin, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const done = new Promise<RunOutput>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { process: child, done };
}
