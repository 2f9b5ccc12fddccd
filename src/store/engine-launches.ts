import type { Selectable, Updateable } from 'kysely';
import { expectingViolations } from './constraints.js';
import { touched, type StoreContext } from './context.js';
import type { EngineLaunchesTable } from './database.js';

export type LaunchState = 'requested' | 'launched' | 'running' | 'stopping' | 'stopped' | 'failed';

export const activeLaunchStates: readonly LaunchState[] = ['requested', 'launched', 'running', 'stopping'];

/**
 * The intent to launch an agent, recorded before the engine is asked to launch it. After a
 * crash, the server compares the active launches with what the engine lists and stops what
 * nobody recorded, or marks as failed what never started: nothing leaks.
 */
export type EngineLaunch = {
  id: number;
  engine: string;
  template: string;
  /** The name the agent registers with; unique. */
  agentName: string;
  /** The engine's id for the container or process; null until launched. */
  engineTaskId: string | null;
  state: LaunchState;
  error: string | null;
  /** The image it was launched with instead of its template's; null: the template's own. */
  image: string | null;
  /** Jobs given to the agent so far (maxJobsPerAgent counts them across server restarts). */
  jobsRun: number;
  createdAt: number;
  updatedAt: number;
};

export type EngineLaunches = {
  /** In state 'requested'. Throws CONFLICT on a reused agent name. */
  create(input: { engine: string; template: string; agentName: string; image?: string | null }): Promise<EngineLaunch>;
  get(id: number): Promise<EngineLaunch | null>;
  getByAgentName(agentName: string): Promise<EngineLaunch | null>;
  setTaskId(id: number, engineTaskId: string): Promise<boolean>;
  /** Counts one more job given to the launch's agent. */
  countJob(id: number): Promise<boolean>;
  /** Compare-and-set, as for jobs; error is recorded when given. */
  setState(input: { id: number; from: readonly LaunchState[]; to: LaunchState; error?: string | null }): Promise<boolean>;
  /** Launches of this engine not yet stopped or failed, oldest first: what reconciliation checks. */
  listActive(engine: string): Promise<EngineLaunch[]>;
};

function toLaunch(row: Selectable<EngineLaunchesTable>): EngineLaunch {
  return {
    id: row.id,
    engine: row.engine,
    template: row.template,
    agentName: row.agent_name,
    engineTaskId: row.engine_task_id,
    state: row.state as LaunchState,
    error: row.error,
    image: row.image,
    jobsRun: Number(row.jobs_run),
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function engineLaunches(ctx: StoreContext): EngineLaunches {
  const { db } = ctx;
  return {
    async create({ engine, template, agentName, image = null }) {
      const now = ctx.now();
      const row = await expectingViolations(
        () =>
          db
            .insertInto('engine_launches')
            .values({ engine, template, agent_name: agentName, engine_task_id: null, state: 'requested', error: null, image, created_at: now, updated_at: now })
            .returningAll()
            .executeTakeFirstOrThrow(),
        { unique: `a launch for agent "${agentName}" already exists; give each launched agent a new name` },
      );
      return toLaunch(row);
    },

    async get(id) {
      const row = await db.selectFrom('engine_launches').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toLaunch(row);
    },

    async getByAgentName(agentName) {
      const row = await db.selectFrom('engine_launches').selectAll().where('agent_name', '=', agentName).executeTakeFirst();
      return row === undefined ? null : toLaunch(row);
    },

    async setTaskId(id, engineTaskId) {
      const result = await db
        .updateTable('engine_launches')
        .set({ engine_task_id: engineTaskId, updated_at: ctx.now() })
        .where('id', '=', id)
        .executeTakeFirst();
      return touched(result);
    },

    async countJob(id) {
      const result = await db
        .updateTable('engine_launches')
        .set((eb) => ({ jobs_run: eb('jobs_run', '+', 1), updated_at: ctx.now() }))
        .where('id', '=', id)
        .executeTakeFirst();
      return touched(result);
    },

    async setState({ id, from, to, error }) {
      if (from.length === 0) return false;
      const set: Updateable<EngineLaunchesTable> = { state: to, updated_at: ctx.now() };
      if (error !== undefined) set.error = error;
      const result = await db
        .updateTable('engine_launches')
        .set(set)
        .where('id', '=', id)
        .where('state', 'in', from)
        .executeTakeFirst();
      return touched(result);
    },

    async listActive(engine) {
      const rows = await db
        .selectFrom('engine_launches')
        .selectAll()
        .where('engine', '=', engine)
        .where('state', 'in', activeLaunchStates)
        .orderBy('id')
        .execute();
      return rows.map(toLaunch);
    },
  };
}
