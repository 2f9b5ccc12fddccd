import { spawn, type ChildProcessByStdio } from 'node:child_process';
import { readFile, readdir } from 'node:fs/promises';
import { constants as osConstants } from 'node:os';
import type { Readable } from 'node:stream';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Processes started as the leader of a new process group (`detached: true`, so
 * setsid), so that the whole tree they start — `sleep 1000 &`, `(cmd)` subshells,
 * npm's children — can be signalled and waited for as one. A process that leaves the
 * group on purpose (setsid, daemonizing tools) escapes; that is documented.
 */

export type Exit = { code: number | null; signal: NodeJS.Signals | null };

/** How often to look whether a group is empty, while waiting for it to die. */
const GROUP_POLL_MS = 15;
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
    const timer = delay(DRAIN_MS, 'timeout' as const, { ref: false });
    const outcome = await Promise.race([closed.then(() => 'closed' as const), timer]);
    if (outcome === 'timeout') {
      for (const stream of streams) stream.destroy();
      return false;
    }
    return true;
  }

  dispose(): void {
    if (this.killTimer !== null) clearTimeout(this.killTimer);
    this.killTimer = null;
  }
}

function streamClosed(stream: Readable): Promise<void> {
  if (stream.destroyed || stream.readableEnded) return Promise.resolve();
  return new Promise((resolve) => stream.once('close', () => resolve()));
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    // ESRCH: the group is already gone, which is what we want. EPERM: a member changed
    // its user (setuid); nothing more we can do about it from here.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH' && code !== 'EPERM') throw error;
  }
}

/**
 * Whether any live process is left in the group. Zombies do not count: they are dead
 * and hold nothing open, but an init that reaps slowly (or a container whose PID 1
 * does not reap at all) keeps them around, and they would make kill(-pgid, 0) succeed.
 */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code !== 'EPERM') throw error;
  }
  return process.platform === 'linux' ? hasLiveMember(pgid) : true;
}

async function hasLiveMember(pgid: number): Promise<boolean> {
  let pids: string[];
  try {
    pids = (await readdir('/proc')).filter((name) => /^\d+$/.test(name));
  } catch {
    return true; // no /proc: trust kill(-pgid, 0), which said the group exists
  }
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
    if (stat === null) continue; // exited while we looked
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z' && fields[0] !== 'X') return true;
  }
  return false;
}

async function waitGroupGone(pgid: number, withinMs: number): Promise<boolean> {
  const deadline = performance.now() + Math.max(0, withinMs);
  for (;;) {
    if (!(await groupAlive(pgid))) return true;
    if (performance.now() >= deadline) return false;
    await delay(Math.min(GROUP_POLL_MS, Math.max(1, deadline - performance.now())));
  }
}

/** The shell convention for a process ended by a signal: 128 + the signal number. */
export function exitCodeOf(exit: Exit): number {
  if (exit.code !== null) return exit.code;
  const number = exit.signal === null ? undefined : osConstants.signals[exit.signal];
  return 128 + (number ?? 0);
}

export type Captured = { exit: Exit; stdout: Buffer; stderr: string; aborted: boolean };

/**
 * Runs a helper command (git) in its own group and captures its output. Aborting the
 * signal ends the whole group. Rejects only when the command cannot be started.
 */
export async function runCaptured(
  command: string,
  args: readonly string[],
  options: { cwd: string; env: NodeJS.ProcessEnv; signal: AbortSignal; killGraceMs: number },
): Promise<Captured> {
  const group = await ProcessGroup.start(command, args, options);
  const stdout: Buffer[] = [];
  let stderr = '';
  group.child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  group.child.stderr.on('data', (chunk: Buffer) => {
    // The tail is what explains a failure; keep the last 64 KiB at most.
    stderr = (stderr + chunk.toString('utf8')).slice(-65536);
  });
  let aborted = false;
  const onAbort = (): void => {
    aborted = true;
    group.terminate(options.killGraceMs);
  };
  if (options.signal.aborted) onAbort();
  else options.signal.addEventListener('abort', onAbort, { once: true });
  try {
    const exit = await group.exited;
    await group.reap(options.killGraceMs);
    await group.drain();
    return { exit, stdout: Buffer.concat(stdout), stderr, aborted };
  } finally {
    options.signal.removeEventListener('abort', onAbort);
    group.dispose();
  }
}
