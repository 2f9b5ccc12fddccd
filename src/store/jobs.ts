import { sql, type Selectable, type Updateable } from 'kysely';
import { touched, type StoreContext } from './context.js';
import type { JobsTable } from './database.js';
import { fromFlag, fromJson, fromJsonOrNull, toJson } from './values.js';

export type JobStatus =
  | 'created' // waiting for its dependencies
  | 'pending' // queued: ready, waiting for an agent
  | 'running'
  | 'manual' // waiting for a person to start it
  | 'scheduled' // delayed: waits for notBefore
  | 'success'
  | 'failed'
  | 'canceled'
  | 'skipped';

export const finishedJobStatuses: readonly JobStatus[] = ['success', 'failed', 'canceled', 'skipped'];

/** Whose failure it was: the user's script, or the system (so retries and the UI can tell). */
export type FailureKind = 'script_failure' | 'timeout' | 'agent_lost' | 'system_failure';

export type Failure = { kind: FailureKind; message: string; exitCode?: number };

export type Job = {
  id: number;
  buildId: number;
  projectId: number;
  /** Unique within its build. */
  name: string;
  stage: string;
  status: JobStatus;
  /** The JobSpec, stored opaque: the caller types it. */
  spec: unknown;
  /** An agent must have all of these to take the job. */
  labels: string[];
  cpus: number | null;
  memoryMiB: number | null;
  /** The project's priority when the build was created; higher is dispatched first. */
  priority: number;
  failureAllowed: boolean;
  failure: Failure | null;
  /** How many attempts have been assigned so far. */
  attempts: number;
  /** The agent running the current attempt. */
  agentId: number | null;
  queuedAt: number | null;
  startedAt: number | null;
  finishedAt: number | null;
  /** Not dispatched before this time (delayed jobs, retry backoff). */
  notBefore: number | null;
  createdAt: number;
};

export type NewJob = {
  name: string;
  stage: string;
  status: JobStatus;
  spec: unknown;
  labels?: string[];
  cpus?: number | null;
  memoryMiB?: number | null;
  failureAllowed?: boolean;
  notBefore?: number | null;
};

export type QueueStats = {
  pendingJobs: number;
  /** queuedAt of the job that has waited longest, null when none is pending. */
  oldestQueuedAt: number | null;
  runningJobs: number;
};

export type Jobs = {
  get(id: number): Promise<Job | null>;
  /** In creation order. */
  listByBuild(buildId: number): Promise<Job[]>;
  /**
   * Compare-and-set: moves the job to `to` only if its status is one of `from`, and says
   * whether it did. Of two concurrent transitions from the same status, one wins. Stamps
   * queuedAt (to pending), startedAt (to running), finishedAt (to a finished status), and
   * the failure when one is given. To start a job, use attempts.assign.
   */
  setStatus(input: { id: number; from: readonly JobStatus[]; to: JobStatus; failure?: Failure | null }): Promise<boolean>;
  /** Queues a job (created, manual or scheduled → pending), compare-and-set like setStatus. */
  setPending(input: { id: number; from: readonly JobStatus[]; notBefore?: number | null }): Promise<boolean>;
  /**
   * Puts a job back in the queue for another attempt (a lost agent, a retry): pending again,
   * no agent, no start, finish or failure; its attempts count is kept.
   */
  requeue(input: { id: number; from: readonly JobStatus[]; notBefore?: number | null }): Promise<boolean>;
  /** Pending jobs that may start at `now`, in dispatch order: priority desc, queuedAt asc, id asc. */
  listPending(input: { now: number; limit?: number }): Promise<Job[]>;
  /** Scheduled (delayed) jobs whose notBefore has passed, for the scheduler to queue. */
  listScheduledDue(now: number, limit?: number): Promise<Job[]>;
  /** Running jobs per project, to enforce concurrency limits. */
  countRunningByProject(): Promise<Map<number, number>>;
  queueStats(): Promise<QueueStats>;
};

export function toJob(row: Selectable<JobsTable>): Job {
  return {
    id: row.id,
    buildId: row.build_id,
    projectId: row.project_id,
    name: row.name,
    stage: row.stage,
    status: row.status as JobStatus,
    spec: fromJson<unknown>(row.spec, 'jobs.spec'),
    labels: fromJson(row.labels, 'jobs.labels'),
    cpus: row.cpus,
    memoryMiB: row.memory_mib,
    priority: row.priority,
    failureAllowed: fromFlag(row.failure_allowed),
    failure: fromJsonOrNull(row.failure, 'jobs.failure'),
    attempts: row.attempts,
    agentId: row.agent_id,
    queuedAt: row.queued_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    notBefore: row.not_before,
    createdAt: row.created_at,
  };
}

export function jobs(ctx: StoreContext): Jobs {
  const { db } = ctx;

  async function transition(id: number, from: readonly JobStatus[], set: Updateable<JobsTable>): Promise<boolean> {
    if (from.length === 0) return false;
    const result = await db.updateTable('jobs').set(set).where('id', '=', id).where('status', 'in', from).executeTakeFirst();
    return touched(result);
  }

  return {
    async get(id) {
      const row = await db.selectFrom('jobs').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toJob(row);
    },

    async listByBuild(buildId) {
      const rows = await db.selectFrom('jobs').selectAll().where('build_id', '=', buildId).orderBy('id').execute();
      return rows.map(toJob);
    },

    async setStatus({ id, from, to, failure }) {
      const now = ctx.now();
      const set: Updateable<JobsTable> = { status: to };
      if (to === 'pending') set.queued_at = now;
      if (to === 'running') set.started_at = now;
      if (finishedJobStatuses.includes(to)) set.finished_at = now;
      if (failure !== undefined) set.failure = failure === null ? null : toJson(failure);
      return transition(id, from, set);
    },

    async setPending({ id, from, notBefore }) {
      return transition(id, from, { status: 'pending', queued_at: ctx.now(), not_before: notBefore ?? null });
    },

    async requeue({ id, from, notBefore }) {
      return transition(id, from, {
        status: 'pending',
        queued_at: ctx.now(),
        not_before: notBefore ?? null,
        agent_id: null,
        started_at: null,
        finished_at: null,
        failure: null,
      });
    },

    async listPending({ now, limit = 100 }) {
      const rows = await db
        .selectFrom('jobs')
        .selectAll()
        .where('status', '=', 'pending')
        .where((eb) => eb.or([eb('not_before', 'is', null), eb('not_before', '<=', now)]))
        .orderBy('priority', 'desc')
        .orderBy('queued_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toJob);
    },

    async listScheduledDue(now, limit = 100) {
      const rows = await db
        .selectFrom('jobs')
        .selectAll()
        .where('status', '=', 'scheduled')
        .where('not_before', '<=', now)
        .orderBy('not_before')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toJob);
    },

    async countRunningByProject() {
      const rows = await db
        .selectFrom('jobs')
        .select(['project_id', (eb) => eb.fn.countAll<number>().as('running')])
        .where('status', '=', 'running')
        .groupBy('project_id')
        .execute();
      return new Map(rows.map((row) => [row.project_id, Number(row.running)]));
    },

    async queueStats() {
      const row = await db
        .selectFrom('jobs')
        .select([
          sql<number | null>`sum(case when status = 'pending' then 1 else 0 end)`.as('pending'),
          sql<number | null>`sum(case when status = 'running' then 1 else 0 end)`.as('running'),
          sql<number | null>`min(case when status = 'pending' then queued_at end)`.as('oldest'),
        ])
        .where('status', 'in', ['pending', 'running'])
        .executeTakeFirstOrThrow();
      return {
        pendingJobs: Number(row.pending ?? 0),
        runningJobs: Number(row.running ?? 0),
        oldestQueuedAt: row.oldest === null ? null : Number(row.oldest),
      };
    },
  };
}
