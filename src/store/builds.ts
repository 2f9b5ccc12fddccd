import { sql, type Selectable } from 'kysely';
import { SlipwayError } from '../errors/index.js';
import { expectingViolations } from './constraints.js';
import { atomic, touched, type StoreContext } from './context.js';
import type { BuildsTable } from './database.js';
import { toJob, type Job, type NewJob } from './jobs.js';
import { decodeCursor, pageLimit, toPage, type Page, type PageRequest } from './pagination.js';
import { fromJson, fromJsonOrNull, toFlag, toJson } from './values.js';

export type BuildStatus =
  | 'created'
  | 'pending'
  | 'running'
  | 'success'
  | 'failed'
  | 'canceled'
  | 'error' // the pipeline file is invalid: see errors
  | 'skipped';

export const finishedBuildStatuses: readonly BuildStatus[] = ['success', 'failed', 'canceled', 'error', 'skipped'];
export const activeBuildStatuses: readonly BuildStatus[] = ['created', 'pending', 'running'];

/** What started the build. */
export type BuildSource = 'api' | 'web' | 'push' | 'schedule' | 'webhook' | 'poll' | 'retry';

/** What the build's ref names: a branch, a tag, or a commit given by its hash. */
export type RefKind = 'branch' | 'tag' | 'commit';

/** A problem in the pipeline file, where it is and what to change. */
export type BuildError = { file: string; line: number; column: number; message: string };

export type Build = {
  /** Global, also CI_PIPELINE_ID. */
  id: number;
  projectId: number;
  /** 1, 2, 3… within the project. */
  number: number;
  status: BuildStatus;
  ref: string;
  commitSha: string;
  commitMessage: string | null;
  /** `Name <email>`. */
  commitAuthor: string | null;
  /** The commit's author date, in ms since the epoch; null for builds stored before it was kept. */
  commitTimestamp: number | null;
  refKind: RefKind;
  /** For pushes: the commit the ref pointed at before; null when unknown. */
  beforeSha: string | null;
  source: BuildSource;
  triggerVariables: Record<string, string>;
  /** When retention deleted the logs of the build's jobs; null while they are kept. */
  logsExpiredAt: number | null;
  /** Set when the pipeline file was invalid (status 'error'). */
  errors: BuildError[] | null;
  /** The planned pipeline, stored opaque: the caller types it. */
  plan: unknown;
  createdAt: number;
  startedAt: number | null;
  finishedAt: number | null;
};

export type NewBuild = {
  projectId: number;
  status: BuildStatus;
  ref: string;
  commitSha: string;
  commitMessage?: string | null;
  commitAuthor?: string | null;
  commitTimestamp?: number | null;
  /** 'branch' when left out. */
  refKind?: RefKind;
  beforeSha?: string | null;
  source: BuildSource;
  triggerVariables?: Record<string, string>;
  errors?: BuildError[] | null;
  plan?: unknown;
};

export type BuildFilter = {
  projectId?: number;
  status?: BuildStatus | readonly BuildStatus[];
  ref?: string;
};

export type Builds = {
  /**
   * Inserts the build and all its jobs in one transaction (or in the caller's), numbering
   * the build next in its project; either everything is stored or nothing is. Each job gets
   * the project's priority. Throws NOT_FOUND for a missing project, CONFLICT for two jobs
   * with one name.
   */
  create(input: { build: NewBuild; jobs: readonly NewJob[] }): Promise<{ build: Build; jobs: Job[] }>;
  get(id: number): Promise<Build | null>;
  getByNumber(projectId: number, number: number): Promise<Build | null>;
  /** Newest first. */
  list(filter?: BuildFilter & PageRequest): Promise<Page<Build>>;
  /**
   * Compare-and-set: moves the build to `to` only if its status is one of `from`. Stamps
   * startedAt on the first start and finishedAt on finishing (and clears it on reopening).
   */
  setStatus(input: { id: number; from: readonly BuildStatus[]; to: BuildStatus }): Promise<boolean>;
  /** Builds not finished yet (created, pending, running), oldest first. */
  listActive(): Promise<Build[]>;
  /**
   * Builds finished before `before` whose logs are kept, oldest finished first: for the log
   * sweep. A build whose logs expired and that finished again since (a job retried later)
   * is listed again for the logs of its new attempts.
   */
  listLogsToExpire(before: number, limit: number): Promise<Build[]>;
  /** Records that the build's logs were deleted now: attempts made until now have no log. False for a missing build. */
  markLogsExpired(id: number): Promise<boolean>;
};

function toBuild(row: Selectable<BuildsTable>): Build {
  return {
    id: row.id,
    projectId: row.project_id,
    number: row.number,
    status: row.status as BuildStatus,
    ref: row.ref,
    commitSha: row.commit_sha,
    commitMessage: row.commit_message,
    commitAuthor: row.commit_author,
    commitTimestamp: row.commit_timestamp,
    refKind: row.ref_kind as RefKind,
    beforeSha: row.before_sha,
    source: row.source as BuildSource,
    triggerVariables: fromJson(row.trigger_variables, 'builds.trigger_variables'),
    logsExpiredAt: row.logs_expired_at,
    errors: fromJsonOrNull(row.errors, 'builds.errors'),
    plan: fromJsonOrNull<unknown>(row.plan, 'builds.plan'),
    createdAt: row.created_at,
    startedAt: row.started_at,
    finishedAt: row.finished_at,
  };
}

// SQLite allows 32766 bound parameters per statement; 500 jobs of 15 columns stay well below.
const jobsPerInsert = 500;

export function builds(ctx: StoreContext): Builds {
  const { db } = ctx;
  return {
    create({ build, jobs }) {
      return atomic(ctx, async (tx) => {
        const now = tx.now();
        // The counter row is locked until commit, so concurrent creates for one project
        // take turns and get consecutive numbers.
        const project = await tx.db
          .updateTable('projects')
          .set((eb) => ({ last_build_number: eb('last_build_number', '+', 1) }))
          .where('id', '=', build.projectId)
          .returning(['last_build_number', 'priority'])
          .executeTakeFirst();
        if (project === undefined) throw new SlipwayError('NOT_FOUND', `project ${build.projectId} does not exist`);

        const buildRow = await tx.db
          .insertInto('builds')
          .values({
            project_id: build.projectId,
            number: project.last_build_number,
            status: build.status,
            ref: build.ref,
            commit_sha: build.commitSha,
            commit_message: build.commitMessage ?? null,
            commit_author: build.commitAuthor ?? null,
            commit_timestamp: build.commitTimestamp ?? null,
            ref_kind: build.refKind ?? 'branch',
            before_sha: build.beforeSha ?? null,
            source: build.source,
            trigger_variables: toJson(build.triggerVariables ?? {}),
            errors: build.errors == null ? null : toJson(build.errors),
            plan: build.plan === undefined ? null : toJson(build.plan),
            created_at: now,
            started_at: null,
            finished_at: finishedBuildStatuses.includes(build.status) ? now : null,
            logs_expired_at: null,
          })
          .returningAll()
          .executeTakeFirstOrThrow();

        const jobRows = [];
        for (let start = 0; start < jobs.length; start += jobsPerInsert) {
          const values = jobs.slice(start, start + jobsPerInsert).map((job) => ({
            build_id: buildRow.id,
            project_id: build.projectId,
            name: job.name,
            stage: job.stage,
            status: job.status,
            spec: toJson(job.spec),
            labels: toJson(job.labels ?? []),
            cpus: job.cpus ?? null,
            memory_mib: job.memoryMiB ?? null,
            priority: project.priority,
            failure_allowed: toFlag(job.failureAllowed ?? false),
            failure: null,
            attempts: 0,
            agent_id: null,
            queued_at: job.status === 'pending' ? now : null,
            started_at: null,
            finished_at: null,
            not_before: job.notBefore ?? null,
            created_at: now,
          }));
          const inserted = await expectingViolations(
            () => tx.db.insertInto('jobs').values(values).returningAll().execute(),
            { unique: `two jobs of build ${buildRow.id} are named alike; job names must be unique within a build` },
          );
          jobRows.push(...inserted);
        }
        // RETURNING gives no order guarantee (SQLite says so); ids follow the VALUES order.
        jobRows.sort((a, b) => a.id - b.id);
        return { build: toBuild(buildRow), jobs: jobRows.map(toJob) };
      });
    },

    async get(id) {
      const row = await db.selectFrom('builds').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toBuild(row);
    },

    async getByNumber(projectId, number) {
      const row = await db
        .selectFrom('builds')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('number', '=', number)
        .executeTakeFirst();
      return row === undefined ? null : toBuild(row);
    },

    async list(filter = {}) {
      const limit = pageLimit(filter);
      const before = decodeCursor('builds', filter.cursor, 'number');
      let query = db.selectFrom('builds').selectAll().orderBy('id', 'desc').limit(limit + 1);
      if (filter.projectId !== undefined) query = query.where('project_id', '=', filter.projectId);
      if (filter.ref !== undefined) query = query.where('ref', '=', filter.ref);
      if (typeof filter.status === 'string') query = query.where('status', '=', filter.status);
      else if (filter.status !== undefined) {
        if (filter.status.length === 0) return { items: [], nextCursor: null };
        query = query.where('status', 'in', filter.status);
      }
      if (before !== null) query = query.where('id', '<', before);
      return toPage(await query.execute(), limit, 'builds', (row) => row.id, toBuild);
    },

    async setStatus({ id, from, to }) {
      if (from.length === 0) return false;
      const now = ctx.now();
      let query = db
        .updateTable('builds')
        .set({ status: to, finished_at: finishedBuildStatuses.includes(to) ? now : null })
        .where('id', '=', id)
        .where('status', 'in', from);
      if (to === 'running') query = query.set({ started_at: sql<number>`coalesce(started_at, ${now})` });
      return touched(await query.executeTakeFirst());
    },

    async listActive() {
      const rows = await db.selectFrom('builds').selectAll().where('status', 'in', activeBuildStatuses).orderBy('id').execute();
      return rows.map(toBuild);
    },

    async listLogsToExpire(before, limit) {
      const rows = await db
        .selectFrom('builds')
        .selectAll()
        .where('finished_at', '<', before)
        .where((eb) => eb.or([eb('logs_expired_at', 'is', null), eb('logs_expired_at', '<', eb.ref('finished_at'))]))
        .orderBy('finished_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toBuild);
    },

    async markLogsExpired(id) {
      const now = ctx.now();
      const result = await db
        .updateTable('builds')
        .set({ logs_expired_at: now })
        .where('id', '=', id)
        .executeTakeFirst();
      return touched(result);
    },
  };
}
