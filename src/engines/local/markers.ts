import { randomBytes } from 'node:crypto';
import { readFile, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { SlipwayError, messageOf } from '../../errors/index.js';

/**
 * A task marker: `<stateDir>/tasks/<taskId>.json`, written before launch() resolves and
 * removed by stop(). It is how list() finds tasks an earlier engine instance started:
 * the local engine keeps nothing about its tasks only in memory.
 */
const markerSchema = z.object({
  taskId: z.string(),
  agentName: z.string(),
  template: z.string(),
  serverId: z.string(),
  pid: z.number().int().positive(),
  /** Field 22 of /proc/<pid>/stat; null when the process ended before it could be read. */
  pidStartTime: z.string().nullable(),
  startedAt: z.number(),
  /** Set by the engine instance that saw the process exit. */
  exit: z
    .object({ exitCode: z.number().int().nullable(), reason: z.string().nullable(), exitedAt: z.number() })
    .nullable()
    .default(null),
});

export type Marker = z.output<typeof markerSchema>;

const TASK_ID = /^local-[0-9a-f]{16}$/;

export function newTaskId(): string {
  return `local-${randomBytes(8).toString('hex')}`;
}

/** Whether id could name one of our tasks; anything else is unknown without touching the disk. */
export function isTaskId(id: string): boolean {
  return TASK_ID.test(id);
}

export type Markers = ReturnType<typeof markerFiles>;

export function markerFiles(tasksDir: string) {
  const markerPath = (taskId: string): string => path.join(tasksDir, `${taskId}.json`);
  const logPath = (taskId: string): string => path.join(tasksDir, `${taskId}.log`);

  async function read(taskId: string): Promise<Marker | null> {
    const file = markerPath(taskId);
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null; // stopped meanwhile
      throw error;
    }
    try {
      return markerSchema.parse(JSON.parse(text));
    } catch (error) {
      throw new SlipwayError(
        'ENGINE_UNAVAILABLE',
        `task marker ${file} is not one the local engine wrote (${messageOf(error)}); stop the process it names by hand, if any, and remove the file`,
        { cause: error },
      );
    }
  }

  return {
    tasksDir,
    markerPath,
    logPath,
    read,

    /** Atomically: readers see the old marker or the new one, never half of one. */
    async write(marker: Marker): Promise<void> {
      const temp = path.join(tasksDir, `.${marker.taskId}.${randomBytes(4).toString('hex')}.tmp`);
      await writeFile(temp, `${JSON.stringify(marker)}\n`, { flag: 'wx' });
      try {
        await rename(temp, markerPath(marker.taskId));
      } catch (error) {
        await rm(temp, { force: true });
        throw error;
      }
    },

    async remove(taskId: string): Promise<void> {
      await rm(markerPath(taskId), { force: true });
    },

    /** Every marker in the folder, oldest task first. */
    async all(): Promise<Marker[]> {
      let names: string[];
      try {
        names = await readdir(tasksDir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return []; // nothing launched yet
        throw error;
      }
      const markers: Marker[] = [];
      for (const name of names) {
        const taskId = name.slice(0, -'.json'.length);
        if (!name.endsWith('.json') || !isTaskId(taskId)) continue;
        const marker = await read(taskId);
        if (marker !== null) markers.push(marker);
      }
      return markers.sort((a, b) => a.startedAt - b.startedAt);
    },

    /** Removes logs of tasks that have no marker any more and were last written before cutoffMs. */
    async pruneLogs(cutoffMs: number): Promise<void> {
      let names: string[];
      try {
        names = await readdir(tasksDir);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw error;
      }
      const present = new Set(names);
      for (const name of names) {
        const taskId = name.slice(0, -'.log'.length);
        if (!name.endsWith('.log') || !isTaskId(taskId) || present.has(`${taskId}.json`)) continue;
        const info = await stat(path.join(tasksDir, name)).catch((error: NodeJS.ErrnoException) => {
          if (error.code === 'ENOENT') return null; // pruned by another instance meanwhile
          throw error;
        });
        if (info !== null && info.mtimeMs < cutoffMs) await rm(path.join(tasksDir, name), { force: true });
      }
    },
  };
}
