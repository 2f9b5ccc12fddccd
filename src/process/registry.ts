import { renameSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { SlipwayError, messageOf } from '../errors/index.js';
import { groupIsOurs, groupIsOursSync, signalGroup, waitGroupGone } from './liveness.js';

/**
 * The process groups this process leads right now: every ProcessGroup is registered from
 * its start to its dispose(). Two kinds of exit need them, since a group of its own is
 * exactly what a signal to this process's group does not reach:
 *  - an exit that cannot wait (a second Ctrl-C) ends them with killLiveGroups();
 *  - an exit this process never sees (SIGKILL) is cleaned up by whoever killed it, from a
 *    record on disk: with recordGroupsIn(file), the list is rewritten at every change,
 *    and endRecordedGroups(file) ends what it names (the local engine, after it killed an
 *    agent). A group started between its spawn and the rewrite (microseconds) escapes
 *    the record.
 * It is one list per process on purpose: groups belong to the process, not to a caller.
 */

export type GroupRecord = {
  /** The leader's pid, which is the group's id. */
  pgid: number;
  /** Field 22 of the leader's /proc/<pid>/stat: tells our group from a reused pid. */
  startTime: string | null;
};

/** What a process names its record file in the folder it works in (an agent: its work folder). */
export const GROUP_RECORD_FILE = 'process-groups.json';

const recordSchema = z.object({
  pid: z.number().int(),
  groups: z.array(z.object({ pgid: z.number().int().positive(), startTime: z.string().nullable() })),
});

const live = new Map<number, GroupRecord>();
let recordFile: string | null = null;

/** Keeps the list in file (JSON) from now on; writes it at once. */
export function recordGroupsIn(file: string): void {
  recordFile = file;
  persist();
}

export function groupStarted(record: GroupRecord): void {
  live.set(record.pgid, record);
  persist();
}

export function groupEnded(pgid: number): void {
  if (live.delete(pgid)) persist();
}

function liveGroups(): GroupRecord[] {
  return [...live.values()];
}

/** SIGKILL to every group this process leads, synchronously: for process.exit paths. */
export function killLiveGroups(): void {
  for (const { pgid, startTime } of live.values()) {
    try {
      if (groupIsOursSync(pgid, startTime)) signalGroup(pgid, 'SIGKILL');
    } catch (error) {
      // The exit this serves must happen whatever one group does: the others still go.
      process.emitWarning(`cannot end process group ${pgid}: ${messageOf(error)}`);
    }
  }
}

function persist(): void {
  const file = recordFile;
  if (file === null) return;
  // Synchronous, so that the file never lags the list by more than the current call, and
  // writes cannot overtake each other.
  const temp = `${file}.${process.pid}.tmp`;
  try {
    writeFileSync(temp, `${JSON.stringify({ pid: process.pid, groups: liveGroups() })}\n`);
    renameSync(temp, file);
  } catch (error) {
    // A job must not fail for it: only a cleanup after SIGKILL depends on the record.
    process.emitWarning(`cannot record this process's process groups in ${file}: ${messageOf(error)}`);
  }
}

/** The groups a process recorded in file; none when there is no file. */
async function readRecordedGroups(file: string): Promise<GroupRecord[]> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []; // it never started a group
    throw error;
  }
  try {
    return recordSchema.parse(JSON.parse(text)).groups;
  } catch (error) {
    throw new SlipwayError('ENGINE_UNAVAILABLE', `${file} is not a record of process groups (${messageOf(error)}); end the processes it names by hand and remove it`, { cause: error });
  }
}

/**
 * SIGKILL to every group recorded in file that is still ours (see groupIsOurs), for when
 * the process that recorded them is dead; resolves true once they are all gone, false
 * when some process is left after withinMs.
 */
export async function endRecordedGroups(file: string, withinMs: number): Promise<boolean> {
  const groups = await readRecordedGroups(file);
  const ours: number[] = [];
  for (const { pgid, startTime } of groups) if (await groupIsOurs(pgid, startTime)) ours.push(pgid);
  for (const pgid of ours) signalGroup(pgid, 'SIGKILL');
  const gone = await Promise.all(ours.map((pgid) => waitGroupGone(pgid, withinMs)));
  return gone.every(Boolean);
}
