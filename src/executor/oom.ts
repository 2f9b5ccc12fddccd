import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Telling an out-of-memory kill from any other SIGKILL. In a container with a memory
 * limit, the kernel kills a process of the cgroup when it goes over, and counts it in
 * the cgroup's `oom_kill`: cgroup v2 `memory.events`, v1 `memory/memory.oom_control`
 * (kernels from 4.13). Outside such a cgroup (the local engine on a host) there is no
 * limit to blame, and nothing changes.
 */

/** The default place of the cgroup file systems; inside a container, its own cgroup. */
export const CGROUP_ROOT = '/sys/fs/cgroup';

/** A shell's exit code when it, or the command it waited for, got SIGKILL. */
const SIGKILL_EXIT_CODE = 128 + 9;

/** v1 writes "no limit" as the largest page-aligned signed 64-bit number; anything near it is no limit. */
const V1_UNLIMITED_BYTES = 2 ** 62;

export type MemoryCgroup = {
  limitBytes: number;
  /** The number of OOM kills so far; null when the counter cannot be read. */
  oomKills(): Promise<number | null>;
};

/** The memory cgroup this process runs in, when it has a limit and an OOM counter; otherwise null. */
export async function openMemoryCgroup(root: string = CGROUP_ROOT): Promise<MemoryCgroup | null> {
  const layouts = [
    { limit: join(root, 'memory.max'), events: join(root, 'memory.events') },
    { limit: join(root, 'memory', 'memory.limit_in_bytes'), events: join(root, 'memory', 'memory.oom_control') },
  ];
  for (const layout of layouts) {
    const limitText = await readOrNull(layout.limit);
    if (limitText === null) continue;
    const limitBytes = Number(limitText.trim());
    // v2 says "max" for no limit: Number gives NaN.
    if (!Number.isFinite(limitBytes) || limitBytes <= 0 || limitBytes >= V1_UNLIMITED_BYTES) return null;
    const oomKills = async (): Promise<number | null> => {
      const text = await readOrNull(layout.events);
      return text === null ? null : oomKillCount(text);
    };
    if ((await oomKills()) === null) return null;
    return { limitBytes, oomKills };
  }
  return null;
}

/** The `oom_kill N` line of memory.events or memory.oom_control; null when there is none. */
export function oomKillCount(text: string): number | null {
  const match = /^oom_kill\s+(\d+)\s*$/m.exec(text);
  return match === null ? null : Number(match[1]);
}

/**
 * What the job's log and result say when a shell that exited 137 (SIGKILL, to the shell
 * itself or to the command it ran) was killed for memory rather than by someone's kill -9:
 * the cgroup's counter rose. Otherwise null.
 */
export async function outOfMemory(cgroup: MemoryCgroup | null, oomKillsBefore: number | null, exitCode: number): Promise<string | null> {
  if (exitCode !== SIGKILL_EXIT_CODE || cgroup === null || oomKillsBefore === null) return null;
  const after = await cgroup.oomKills();
  if (after === null || after <= oomKillsBefore) return null;
  const mib = Math.round(cgroup.limitBytes / (1024 * 1024));
  return `out of memory: the kernel killed the step (memory limit ${mib} MiB); raise resources.memory or the template's memoryMiB`;
}

async function readOrNull(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EACCES' || code === 'EPERM') return null;
    throw error;
  }
}
