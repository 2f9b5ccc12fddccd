import { readFile, readdir } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * What /proc says about the processes the local engine started. An agent is the leader
 * of its own process group (spawned detached), so its pid is also the group's id.
 * Linux only: the engine refuses to start elsewhere.
 */

/** How often to look whether a group is empty while waiting for it to end. */
const GROUP_POLL_MS = 20;

type Stat = { state: string; pgrp: number; startTime: string };

async function readStat(pid: number | string): Promise<Stat | null> {
  let text: string;
  try {
    text = await readFile(`/proc/${pid}/stat`, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ESRCH') return null; // no such process (any more)
    throw error;
  }
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
 * Together with the pid it names one process for the life of the machine, so a marker
 * whose pid was reused by another process is not mistaken for a live agent.
 */
export async function pidStartTime(pid: number): Promise<string | null> {
  return (await readStat(pid))?.startTime ?? null;
}

/** Whether this exact process (pid and start time) is alive; a zombie is dead. */
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
  const stat = await readStat(pid);
  if (stat === null) return true; // the leader is gone; members may remain
  return startTime !== null && stat.startTime === startTime;
}

/** Whether any live (not zombie) process is left in the group. */
export async function groupAlive(pgid: number): Promise<boolean> {
  try {
    process.kill(-pgid, 0);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ESRCH') return false;
    if (code !== 'EPERM') throw error;
  }
  // kill(-pgid, 0) also succeeds for zombies, which a PID 1 that does not reap keeps.
  for (const name of await readdir('/proc')) {
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
    // ESRCH: the group is already gone, which is what we want.
    if ((error as NodeJS.ErrnoException).code !== 'ESRCH') throw error;
  }
}

/** Waits until the group has no live process; false if some remain after withinMs. */
export async function waitGroupGone(pgid: number, withinMs: number): Promise<boolean> {
  const deadline = performance.now() + withinMs;
  for (;;) {
    if (!(await groupAlive(pgid))) return true;
    if (performance.now() >= deadline) return false;
    await delay(GROUP_POLL_MS);
  }
}
