import { readFileSync } from 'node:fs';
import { access } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';

/**
 * Polls check every pollMs until it returns a value other than undefined/false, or fails
 * after deadlineMs. A check that costs the system under test much (many API calls) polls slower.
 */
export async function waitFor<T>(what: string, check: () => T | Promise<T>, deadlineMs = 10_000, pollMs = 20): Promise<Exclude<T, false | undefined>> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value as Exclude<T, false | undefined>;
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await delay(pollMs);
  }
}

export function fileExists(file: string): Promise<boolean> {
  return access(file).then(() => true, () => false);
}

/**
 * Whether a process with this pid is alive. A zombie (dead, not yet reaped) counts as
 * dead: in containers whose PID 1 does not reap orphans, killed processes stay zombies.
 */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}
