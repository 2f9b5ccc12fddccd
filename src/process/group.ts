import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { constants as osConstants } from 'node:os';
import type { Readable } from 'node:stream';
import { groupAlive, pidStartTimeSync, signalGroup, waitGroupGone } from './liveness.js';
import { groupEnded, groupStarted } from './registry.js';

/**
 * Processes started as the leader of a new process group (`detached: true`, so
 * setsid), so that the whole tree they start — `sleep 1000 &`, `(cmd)` subshells,
 * npm's children — can be signalled and waited for as one. A process that leaves the
 * group on purpose (setsid, daemonizing tools) escapes; that is documented.
 */

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** After SIGKILL, how long to wait for the kernel to finish the group off. */
const KILL_CONFIRM_MS = 5000;
/** After the group is dead, how long its pipes may take to reach end of file. */
const DRAIN_MS = 1000;

export class ProcessGroup {
  readonly pid: number;
  readonly child: ChildProcessByStdio<null, Readable, Readable>;
  readonly exited: Promise<Exit>;
  private exit: Exit | null = null;
  private killTimer: NodeJS.Timeout | null = null;
  /** When SIGKILL is due (performance.now()), once termination has begun. */
  private killAt: number | null = null;

  private constructor(child: ChildProcessByStdio<null, Readable, Readable>, pid: number) {
    this.child = child;
    this.pid = pid;
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exit = { code, signal };
        resolve(this.exit);
      });
    });
  }

  /** Starts command as a group leader; rejects when it cannot be started at all. */
  static async start(
    command: string,
    args: readonly string[],
    options: { cwd: string; env: NodeJS.ProcessEnv },
  ): Promise<ProcessGroup> {
    const child = spawn(command, args, {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    // Errors after a successful spawn only concern signalling, which we do ourselves.
    child.on('error', () => undefined);
    if (child.pid === undefined) throw new Error(`${command} started without a pid`);
    // Before anything else runs here: an exit that cannot wait must know of it (registry.ts).
    groupStarted({ pgid: child.pid, startTime: pidStartTimeSync(child.pid) });
    return new ProcessGroup(child, child.pid);
  }

  hasExited(): boolean {
    return this.exit !== null;
  }

  /** SIGTERM to the whole group now, SIGKILL after graceMs. Calling it again does nothing. */
  terminate(graceMs: number): void {
    if (this.killAt !== null) return;
    this.killAt = performance.now() + graceMs;
    signalGroup(this.pid, 'SIGTERM');
    this.killTimer = setTimeout(() => signalGroup(this.pid, 'SIGKILL'), graceMs);
  }

  /**
   * Once the leader has exited, ends whatever is left of its group (SIGTERM, then
   * SIGKILL when the grace runs out) and waits until no live process is left in it.
   * Returns false when some process could not be confirmed dead.
   */
  async reap(graceMs: number): Promise<boolean> {
    try {
      if (!(await groupAlive(this.pid))) return true;
      this.terminate(graceMs);
      const killAt = this.killAt ?? performance.now();
      if (await waitGroupGone(this.pid, killAt - performance.now())) return true;
      signalGroup(this.pid, 'SIGKILL');
      return await waitGroupGone(this.pid, KILL_CONFIRM_MS);
    } finally {
      this.dispose();
    }
  }

  /**
   * Waits for stdout and stderr to reach end of file. A process that escaped the group
   * may still hold them open: after DRAIN_MS they are destroyed. Returns false then.
   */
  async drain(): Promise<boolean> {
    const streams = [this.child.stdout, this.child.stderr];
    const closed = Promise.all(streams.map((stream) => streamClosed(stream)));
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(resolve, DRAIN_MS, 'timeout');
    });
    try {
      const outcome = await Promise.race([closed.then(() => 'closed' as const), timeout]);
      if (outcome === 'closed') return true;
      for (const stream of streams) stream.destroy();
      return false;
    } finally {
      clearTimeout(timer);
    }
  }

  /** After reap() (or when the group is known to be empty): forgets the group. */
  dispose(): void {
    if (this.killTimer !== null) clearTimeout(this.killTimer);
    this.killTimer = null;
    groupEnded(this.pid);
  }
}

function streamClosed(stream: Readable): Promise<void> {
  if (stream.destroyed || stream.readableEnded) return Promise.resolve();
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

/** The shell convention for a process ended by a signal: 128 + the signal number. */
export function exitCodeOf(exit: Exit): number {
  if (exit.code !== null) return exit.code;
  const number = exit.signal === null ? undefined : osConstants.signals[exit.signal];
  return 128 + (number ?? 0);
}
