/** A job waiting for an agent, as the scheduler sees it. */
export type PendingJob = {
  id: number;
  projectId: number;
  /** The agent must have all of these labels; none: any agent will do. */
  labels: readonly string[];
  /** Requested cpus; null: no request (counts as 0, still takes a slot). */
  cpus: number | null;
  /** Requested memory; null: no request (counts as 0, still takes a slot). */
  memoryMiB: number | null;
  /** The project's priority: higher goes first. */
  priority: number;
  /** When the job was queued (ms since the epoch): earlier goes first within a priority. */
  queuedAt: number;
  /** The image the job names (`image:`); null or absent: its agent's own (see images.ts). */
  image?: string | null;
};

/** A value per project id, as a Map or a plain object. */
export type ProjectTable<V> = ReadonlyMap<number, V> | Readonly<Record<number, V>>;

/**
 * The order jobs are considered in: priority (highest first), then queue time (oldest
 * first), then id. Every decision goes through this one function, so fair share between
 * projects can replace it without touching matching or provisioning.
 */
export function orderJobs(jobs: readonly PendingJob[]): PendingJob[] {
  return [...jobs].sort(compareJobs);
}

export function compareJobs(a: PendingJob, b: PendingJob): number {
  return b.priority - a.priority || a.queuedAt - b.queuedAt || a.id - b.id;
}

function lookup<V>(table: ProjectTable<V>, projectId: number): V | undefined {
  if (table instanceof Map) return table.get(projectId);
  const record = table as Readonly<Record<number, V>>;
  return Object.hasOwn(record, projectId) ? record[projectId] : undefined;
}

export type ProjectGate = {
  /** Whether one more job of the project may start now. */
  canStart(projectId: number): boolean;
  /** Counts a job of the project started by this decision. */
  start(projectId: number): void;
};

/**
 * Concurrency limits per project, counting the jobs already running and those started by
 * the decision being made. A missing or null limit is no limit; 0 stops the project.
 */
export function projectGate(running: ProjectTable<number>, limits: ProjectTable<number | null>): ProjectGate {
  const started = new Map<number, number>();
  return {
    canStart(projectId) {
      const limit = lookup(limits, projectId);
      if (limit === undefined || limit === null) return true;
      return (lookup(running, projectId) ?? 0) + (started.get(projectId) ?? 0) < limit;
    },
    start(projectId) {
      started.set(projectId, (started.get(projectId) ?? 0) + 1);
    },
  };
}

// cpus such as 0.1 do not add up exactly in binary: ten of them must still fit in 1 cpu.
const EPSILON = 1e-9;

/** Whether a request fits in what is free. No request (0) always fits. */
export function fits(request: number, free: number): boolean {
  return request <= 0 || request <= free + EPSILON;
}
