import type { Selectable, Updateable } from 'kysely';
import { expectingViolations } from './constraints.js';
import { touched, type StoreContext } from './context.js';
import type { SchedulesTable } from './database.js';
import { fromFlag, fromJson, toFlag, toJson } from './values.js';

export type Schedule = {
  id: number;
  projectId: number;
  /** A cron expression; the caller computes nextRunAt from it. */
  cron: string;
  ref: string;
  variables: Record<string, string>;
  enabled: boolean;
  /** null: not planned (for example while disabled). */
  nextRunAt: number | null;
  lastRunAt: number | null;
  createdAt: number;
  updatedAt: number;
};

export type NewSchedule = {
  projectId: number;
  cron: string;
  ref: string;
  variables?: Record<string, string>;
  enabled?: boolean;
  nextRunAt: number | null;
};

export type SchedulePatch = Partial<Pick<Schedule, 'cron' | 'ref' | 'variables' | 'enabled' | 'nextRunAt'>>;

export type Schedules = {
  /** Throws NOT_FOUND when the project does not exist. */
  create(input: NewSchedule): Promise<Schedule>;
  get(id: number): Promise<Schedule | null>;
  list(projectId: number): Promise<Schedule[]>;
  update(id: number, patch: SchedulePatch): Promise<Schedule | null>;
  delete(id: number): Promise<boolean>;
  /** Enabled schedules whose nextRunAt ≤ now, the most overdue first. */
  due(now: number, limit?: number): Promise<Schedule[]>;
  /**
   * Records a run, only if nextRunAt is still expectedNextRunAt (the value the caller saw
   * in due()). Two servers that both saw the schedule due race here, and exactly one gets
   * true: only that one starts the build.
   */
  markRun(input: { id: number; expectedNextRunAt: number; lastRunAt: number; nextRunAt: number | null }): Promise<boolean>;
};

function toSchedule(row: Selectable<SchedulesTable>): Schedule {
  return {
    id: row.id,
    projectId: row.project_id,
    cron: row.cron,
    ref: row.ref,
    variables: fromJson(row.variables, 'schedules.variables'),
    enabled: fromFlag(row.enabled),
    nextRunAt: row.next_run_at,
    lastRunAt: row.last_run_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function schedules(ctx: StoreContext): Schedules {
  const { db } = ctx;
  return {
    async create(input) {
      const now = ctx.now();
      const row = await expectingViolations(
        () =>
          db
            .insertInto('schedules')
            .values({
              project_id: input.projectId,
              cron: input.cron,
              ref: input.ref,
              variables: toJson(input.variables ?? {}),
              enabled: toFlag(input.enabled ?? true),
              next_run_at: input.nextRunAt,
              last_run_at: null,
              created_at: now,
              updated_at: now,
            })
            .returningAll()
            .executeTakeFirstOrThrow(),
        { foreignKey: `project ${input.projectId} does not exist` },
      );
      return toSchedule(row);
    },

    async get(id) {
      const row = await db.selectFrom('schedules').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toSchedule(row);
    },

    async list(projectId) {
      const rows = await db.selectFrom('schedules').selectAll().where('project_id', '=', projectId).orderBy('id').execute();
      return rows.map(toSchedule);
    },

    async update(id, patch) {
      const set: Updateable<SchedulesTable> = { updated_at: ctx.now() };
      if (patch.cron !== undefined) set.cron = patch.cron;
      if (patch.ref !== undefined) set.ref = patch.ref;
      if (patch.variables !== undefined) set.variables = toJson(patch.variables);
      if (patch.enabled !== undefined) set.enabled = toFlag(patch.enabled);
      if (patch.nextRunAt !== undefined) set.next_run_at = patch.nextRunAt;
      const row = await db.updateTable('schedules').set(set).where('id', '=', id).returningAll().executeTakeFirst();
      return row === undefined ? null : toSchedule(row);
    },

    async delete(id) {
      return touched(await db.deleteFrom('schedules').where('id', '=', id).executeTakeFirst());
    },

    async due(now, limit = 100) {
      const rows = await db
        .selectFrom('schedules')
        .selectAll()
        .where('enabled', '=', 1)
        .where('next_run_at', '<=', now)
        .orderBy('next_run_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toSchedule);
    },

    async markRun({ id, expectedNextRunAt, lastRunAt, nextRunAt }) {
      const result = await db
        .updateTable('schedules')
        .set({ last_run_at: lastRunAt, next_run_at: nextRunAt, updated_at: ctx.now() })
        .where('id', '=', id)
        .where('next_run_at', '=', expectedNextRunAt)
        .executeTakeFirst();
      return touched(result);
    },
  };
}
