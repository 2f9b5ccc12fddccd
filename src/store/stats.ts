import type { StoreContext } from './context.js';
import { activeAttemptStatuses } from './attempts.js';

/** A job an agent is running now, with what a person needs to find it. */
export type RunningJob = {
  agentId: number;
  jobId: number;
  jobName: string;
  buildId: number;
  buildNumber: number;
  project: string;
};

/** Read-only queries for dashboards: they join across table groups, and change nothing. */
export type Stats = {
  /** Jobs whose current attempt is active (assigned or running, not revoked), by attempt id. */
  runningJobs(): Promise<RunningJob[]>;
  /** How long each job started at or after `since` waited in the queue (startedAt - queuedAt), in ms. */
  queueWaits(since: number): Promise<number[]>;
};

export function stats(ctx: StoreContext): Stats {
  const { db } = ctx;
  return {
    async runningJobs() {
      const rows = await db
        .selectFrom('job_attempts as a')
        .innerJoin('jobs as j', 'j.id', 'a.job_id')
        .innerJoin('builds as b', 'b.id', 'j.build_id')
        .innerJoin('projects as p', 'p.id', 'b.project_id')
        .select(['a.agent_id as agentId', 'j.id as jobId', 'j.name as jobName', 'b.id as buildId', 'b.number as buildNumber', 'p.name as project'])
        .where('a.status', 'in', activeAttemptStatuses)
        .where('a.revoked_at', 'is', null)
        .where('a.agent_id', 'is not', null)
        .orderBy('a.id')
        .execute();
      return rows.map((row) => ({ ...row, agentId: Number(row.agentId) }));
    },

    async queueWaits(since) {
      const rows = await db
        .selectFrom('jobs')
        .select(['queued_at', 'started_at'])
        .where('started_at', '>=', since)
        .where('queued_at', 'is not', null)
        .execute();
      return rows.flatMap((row) => (row.started_at === null || row.queued_at === null ? [] : [Math.max(0, Number(row.started_at) - Number(row.queued_at))]));
    },
  };
}
