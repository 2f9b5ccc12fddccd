import type { Selectable, Updateable } from 'kysely';
import { expectingViolations } from './constraints.js';
import { atomic, touched, type StoreContext } from './context.js';
import type { JobAttemptsTable } from './database.js';
import type { Failure } from './jobs.js';
import { fromJsonOrNull, toJson } from './values.js';

export type AttemptStatus = 'assigned' | 'running' | 'success' | 'failed' | 'canceled' | 'lost';

export const activeAttemptStatuses: readonly AttemptStatus[] = ['assigned', 'running'];

/**
 * One try at running a job on one agent. Its token (held by the agent, stored here only as
 * a sha256 hash) is the fencing token: every message of the agent about the job carries it,
 * and once the attempt is finished or revoked the token no longer opens anything, so an
 * agent that was declared lost cannot overwrite the outcome of the attempt that replaced it.
 */
export type JobAttempt = {
  id: number;
  jobId: number;
  /** 1, 2, 3… within the job. */
  number: number;
  agentId: number | null;
  status: AttemptStatus;
  failure: Failure | null;
  exitCode: number | null;
  /** The last log sequence number stored (acknowledged to the agent); 0 before the first. */
  logSeq: number;
  /** When the server last stored output of the attempt (setLogSeq); null before any. */
  lastProgressAt: number | null;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
  revokedAt: number | null;
  /** Why the attempt was told to stop (cancel of the job or build); null if it was not. */
  cancelReason: string | null;
};

export type AttemptResult = {
  status: 'success' | 'failed' | 'canceled' | 'lost';
  failure?: Failure | null;
  exitCode?: number | null;
};

export type Attempts = {
  /**
   * Gives a pending job to an agent, in one transaction: moves the job from pending to
   * running (agent, startedAt, attempts + 1) and records attempt number `attempts`. Returns
   * null when the job was no longer pending, so of any number of agents racing for one job
   * (in this process or another) exactly one gets it. tokenHash: sha256 hex of the token.
   */
  assign(input: { jobId: number; agentId: number; tokenHash: string }): Promise<JobAttempt | null>;
  get(id: number): Promise<JobAttempt | null>;
  /** By number. */
  listByJob(jobId: number): Promise<JobAttempt[]>;
  /** The attempt this token opens, or null when unknown, finished or revoked. */
  getByTokenHash(tokenHash: string): Promise<JobAttempt | null>;
  /** assigned → running when the agent reports the start; false if no longer assigned or revoked. */
  markRunning(id: number): Promise<boolean>;
  /**
   * Records the outcome and revokes the token, only if the attempt is still active and not
   * revoked: of a result and a revocation racing, one wins, and a second result is refused.
   */
  finish(id: number, result: AttemptResult): Promise<boolean>;
  /**
   * Records that the attempt must stop and why, if it is active and not told so already:
   * false otherwise. Its end then counts as canceled unless it succeeded.
   */
  requestCancel(id: number, reason: string): Promise<boolean>;
  /** Revokes the token (the status stays as it is); false if already revoked. */
  revoke(id: number): Promise<boolean>;
  /**
   * Raises logSeq to seq and stamps lastProgressAt with the store's clock; never lowers it.
   * True if it rose. The no-progress backstop reads lastProgressAt, so callers write it
   * whenever stored output moved on (throttled: a few times a second at most).
   */
  setLogSeq(id: number, seq: number): Promise<boolean>;
  /** Active, unrevoked attempts of an agent. */
  listRunningByAgent(agentId: number): Promise<JobAttempt[]>;
  /** Every active, unrevoked attempt (to find the ones whose agent is gone). */
  listRunning(): Promise<JobAttempt[]>;
};

function toAttempt(row: Selectable<JobAttemptsTable>): JobAttempt {
  return {
    id: row.id,
    jobId: row.job_id,
    number: row.number,
    agentId: row.agent_id,
    status: row.status as AttemptStatus,
    failure: fromJsonOrNull(row.failure, 'job_attempts.failure'),
    exitCode: row.exit_code,
    logSeq: row.log_seq,
    lastProgressAt: row.last_progress_at,
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
    revokedAt: row.revoked_at,
    cancelReason: row.cancel_reason,
  };
}

export function attempts(ctx: StoreContext): Attempts {
  const { db } = ctx;

  function active() {
    return db
      .selectFrom('job_attempts')
      .selectAll()
      .where('status', 'in', activeAttemptStatuses)
      .where('revoked_at', 'is', null);
  }

  return {
    assign({ jobId, agentId, tokenHash }) {
      return atomic(ctx, async (tx) => {
        const now = tx.now();
        // The compare-and-set that decides the race: only one transaction finds the job
        // pending (PostgreSQL re-checks the WHERE after waiting on the row lock; SQLite
        // runs one write transaction at a time).
        const job = await expectingViolations(
          () =>
            tx.db
              .updateTable('jobs')
              .set((eb) => ({ status: 'running', agent_id: agentId, started_at: now, attempts: eb('attempts', '+', 1) }))
              .where('id', '=', jobId)
              .where('status', '=', 'pending')
              .returning('attempts')
              .executeTakeFirst(),
          { foreignKey: `agent ${agentId} does not exist` },
        );
        if (job === undefined) return null;
        const row = await expectingViolations(
          () =>
            tx.db
              .insertInto('job_attempts')
              .values({
                job_id: jobId,
                number: job.attempts,
                agent_id: agentId,
                token_hash: tokenHash,
                status: 'assigned',
                failure: null,
                exit_code: null,
                log_seq: 0,
                last_progress_at: null,
                created_at: now,
                started_at: null,
                finished_at: null,
                revoked_at: null,
                cancel_reason: null,
              })
              .returningAll()
              .executeTakeFirstOrThrow(),
          { unique: 'this attempt token hash is already in use; generate a new random token for each attempt' },
        );
        return toAttempt(row);
      });
    },

    async get(id) {
      const row = await db.selectFrom('job_attempts').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toAttempt(row);
    },

    async listByJob(jobId) {
      const rows = await db.selectFrom('job_attempts').selectAll().where('job_id', '=', jobId).orderBy('number').execute();
      return rows.map(toAttempt);
    },

    async getByTokenHash(tokenHash) {
      const row = await db
        .selectFrom('job_attempts')
        .selectAll()
        .where('token_hash', '=', tokenHash)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return row === undefined ? null : toAttempt(row);
    },

    async markRunning(id) {
      const result = await db
        .updateTable('job_attempts')
        .set({ status: 'running', started_at: ctx.now() })
        .where('id', '=', id)
        .where('status', '=', 'assigned')
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return touched(result);
    },

    async finish(id, result) {
      const now = ctx.now();
      const set: Updateable<JobAttemptsTable> = { status: result.status, finished_at: now, revoked_at: now };
      if (result.failure !== undefined) set.failure = result.failure === null ? null : toJson(result.failure);
      if (result.exitCode !== undefined) set.exit_code = result.exitCode;
      const updated = await db
        .updateTable('job_attempts')
        .set(set)
        .where('id', '=', id)
        .where('status', 'in', activeAttemptStatuses)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return touched(updated);
    },

    async revoke(id) {
      const result = await db
        .updateTable('job_attempts')
        .set({ revoked_at: ctx.now() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return touched(result);
    },

    async requestCancel(id, reason) {
      const result = await db
        .updateTable('job_attempts')
        .set({ cancel_reason: reason })
        .where('id', '=', id)
        .where('status', 'in', activeAttemptStatuses)
        .where('revoked_at', 'is', null)
        .where('cancel_reason', 'is', null)
        .executeTakeFirst();
      return touched(result);
    },

    async setLogSeq(id, seq) {
      const result = await db
        .updateTable('job_attempts')
        .set({ log_seq: seq, last_progress_at: ctx.now() })
        .where('id', '=', id)
        .where('log_seq', '<', seq)
        .executeTakeFirst();
      return touched(result);
    },

    async listRunningByAgent(agentId) {
      const rows = await active().where('agent_id', '=', agentId).orderBy('id').execute();
      return rows.map(toAttempt);
    },

    async listRunning() {
      const rows = await active().orderBy('id').execute();
      return rows.map(toAttempt);
    },
  };
}
