import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { slipwayBin } from '../cli/cli.js';
import { processAlive, waitFor } from '../support/wait.js';

/** A real `slipway` process of a test: its output so far, and a stop that always reaps it. */
export type SlipwayProcess = {
  readonly pid: number;
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (or signal) once the process is gone. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then SIGKILL when it is still there after graceMs. Safe to call twice, and after it exited. */
  stop(graceMs?: number): Promise<void>;
  /** How it exited; undefined while it runs. */
  exit(): { code: number | null; signal: NodeJS.Signals | null } | undefined;
  kill9(): Promise<void>;
};

/** Starts `node bin/slipway.js ...args`; stdout and stderr are kept together for failure messages. */
export function spawnSlipway(args: string[], options: { cwd: string; env?: Record<string, string> }): SlipwayProcess {
  const child = spawn(process.execPath, [slipwayBin, ...args], {
    cwd: options.cwd,
    env: { ...process.env, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.setEncoding('utf8').on('data', (d: string) => (output += d));
  child.stderr?.setEncoding('utf8').on('data', (d: string) => (output += d));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const pid = child.pid;
  if (pid === undefined) throw new Error(`could not start slipway ${args.join(' ')}`);
  let gone: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  void exited.then((how) => (gone = how));
  const self: SlipwayProcess = {
    pid,
    child,
    output: () => output,
    exited,
    exit: () => gone,
    async stop(graceMs = 5000) {
      if (gone !== undefined) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
    async kill9() {
      if (gone !== undefined) return;
      child.kill('SIGKILL');
      await exited;
    },
  };
  return self;
}

/** Resolves with the first match of pattern in the process's output, or fails when it exits first. */
export async function waitForOutput(proc: SlipwayProcess, pattern: RegExp, what: string, deadlineMs = 20_000): Promise<RegExpExecArray> {
  let exited = false;
  void proc.exited.then(() => (exited = true));
  try {
    return await waitFor(what, () => {
      const match = pattern.exec(proc.output());
      if (match !== null) return match;
      if (exited) throw new Error(`the process exited before ${what}`);
      return undefined;
    }, deadlineMs);
  } catch (error) {
    throw new Error(`${(error as Error).message}; its output:\n${proc.output()}`, { cause: error });
  }
}

/** A TCP port free right now on 127.0.0.1, for a server that must come back on the same one. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      probe.close(() => resolve(port));
    });
  });
}

/** Kills a process group a job left behind (its shell leads the group) when it is still there. */
export function killGroup(pid: number): void {
  if (!processAlive(pid)) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}
