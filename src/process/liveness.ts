import { readFileSync } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Processes and process groups, as the executor (a job's shell and its children) and the
 * local engine (agent processes) need them. Every process Slipway starts leads a group
 * of its own (spawned detached), so its pid is also the group's id, and stopping it
 * means signalling the whole group.
 *
 * Zombies count as dead everywhere here: an init that reaps slowly (or a container whose
 * PID 1 does not reap at all) keeps them around, and kill(pid, 0) still succeeds on them.
 */

/** How often to look whether a group is empty while waiting for it to end. */
const GROUP_POLL_MS = 20;

type Stat = { state: string; pgrp: number; startTime: string };

/** /proc/<pid>/stat, or null when there is no such process (any more). */
async function readStat(pid: number | string): Promise<Stat | null> {
  try {
    return parseStat(await readFile(`/proc/${pid}/stat`, 'utf8'));
  } catch (error) {
    return noSuchProcess(error);
  }
}

/** readStat for an exit path that cannot wait (see registry.ts). */
function readStatSync(pid: number): Stat | null {
  try {
    return parseStat(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch (error) {
    return noSuchProcess(error);
  }
}

/** null for a read of /proc that found no such process; any other error is rethrown. */
function noSuchProcess(error: unknown): null {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'ENOENT' || code === 'ESRCH') return null;
  throw error;
}

function parseStat(text: string): Stat | null {
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses, so fields
  // are counted from the last ')'. Field 3 (state) is index 0 there, field 22 index 19.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const [state, , pgrp] = fields;
  const startTime = fields[19];
  if (state === undefined || pgrp === undefined || startTime === undefined) return null;
  return { state, pgrp: Number(pgrp), startTime };
}

const dead = (state: string): boolean => state === 'Z' || state === 'X';

/**
 * Field 22 of /proc/<pid>/stat: when the process started, in clock ticks since boot.
 * Together with the pid it names one process for the life of the machine.
 */
export async function pidStartTime(pid: number): Promise<string | null> {
  return (await readStat(pid))?.startTime ?? null;
}

/** pidStartTime, read at once: for a group just spawned, before anything else can run. */
export function pidStartTimeSync(pid: number): string | null {
  return readStatSync(pid)?.startTime ?? null;
}

/** Whether this exact process (pid and start time) is alive. */
export async function processRunning(pid: number, startTime: string | null): Promise<boolean> {
  if (startTime === null) return false;
  const stat = await readStat(pid);
  return stat !== null && !dead(stat.state) && stat.startTime === startTime;
}

/**
 * Whether the group led by this process may still hold processes of ours. False when the
 * pid now belongs to another process: Linux does not reuse a pid while a group of that id
 * has members, so a reused pid means our group is empty — and must not be signalled.
 */
export async function groupIsOurs(pid: number, startTime: string | null): Promise<boolean> {
  return leaderIsOurs(await readStat(pid), startTime);
}

/** groupIsOurs, for an exit path that cannot wait. */
export function groupIsOursSync(pid: number, startTime: string | null): boolean {
  return leaderIsOurs(readStatSync(pid), startTime);
}

function leaderIsOurs(stat: Stat | null, startTime: string | null): boolean {
  if (stat === null) return true; // the leader is gone; members may remain
  return startTime !== null && stat.startTime === startTime;
}

/** Whether any live process is left in the group. */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code !== 'EPERM') throw error;
  }
  let names: string[];
  try {
    names = await readdir('/proc');
  } catch {
    return true; // no /proc: trust kill(-pgid, 0), which said the group exists
  }
  for (const name of names) {
    if (!/^\d+$/.test(name)) continue;
    const stat = await readStat(name);
    if (stat !== null && stat.pgrp === pgid && !dead(stat.state)) return true;
  }
  return false;
}

export function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch (error) {
    // ESRCH: the group is already gone, which is what we want. EPERM: a member changed
    // its user (setuid); nothing more can be done about it from here.
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'ESRCH' && code !== 'EPERM') throw error;
  }
}

/** Waits until the group has no live process; false if some remain after withinMs. */
export async function waitGroupGone(pgid: number, withinMs: number): Promise<boolean> {
  const deadline = performance.now() + Math.max(0, withinMs);
  for (;;) {
    if (!(await groupAlive(pgid))) return true;
    if (performance.now() >= deadline) return false;
    await delay(Math.min(GROUP_POLL_MS, Math.max(1, deadline - performance.now())));
  }
}
