import type { Selectable } from 'kysely';
import { touched, type StoreContext } from './context.js';
import type { AgentsTable } from './database.js';
import { decodeCursor, pageLimit, toPage, type Page, type PageRequest } from './pagination.js';
import { fromJson, toJson } from './values.js';

export type AgentKind = 'registered' | 'engine';

export type AgentStatus = 'online' | 'unreachable' | 'lost' | 'offline';

export type Agent = {
  id: number;
  /** Unique; an agent that registers again under its name is the same agent. */
  name: string;
  /** registered: started by a person with a registration token; engine: launched by an engine. */
  kind: AgentKind;
  engine: string | null;
  engineTaskId: string | null;
  labels: string[];
  capacity: { cpus: number; memoryMiB: number };
  status: AgentStatus;
  version: string | null;
  lastSeenAt: number | null;
  createdAt: number;
  updatedAt: number;
};

export type AgentRegistration = {
  name: string;
  kind: AgentKind;
  engine?: string | null;
  engineTaskId?: string | null;
  labels: string[];
  capacity: { cpus: number; memoryMiB: number };
  version?: string | null;
};

export type Agents = {
  /** Creates the agent, or updates the one of that name; either way online and seen now. */
  register(input: AgentRegistration): Promise<Agent>;
  get(id: number): Promise<Agent | null>;
  getByName(name: string): Promise<Agent | null>;
  /** Records that the agent was seen at `now`; false when there is no such agent. */
  heartbeat(id: number, now: number): Promise<boolean>;
  /** Compare-and-set, as for jobs: true if the status was one of `from` and is now `to`. */
  setStatus(input: { id: number; from: readonly AgentStatus[]; to: AgentStatus }): Promise<boolean>;
  /** By id. */
  list(filter?: { status?: AgentStatus } & PageRequest): Promise<Page<Agent>>;
  /** Jobs and attempts of the agent keep their history with agentId null. */
  delete(id: number): Promise<boolean>;
  /** Online agents last seen before ts: candidates for 'unreachable'. */
  staleSince(ts: number): Promise<Agent[]>;
};

function toAgent(row: Selectable<AgentsTable>): Agent {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind as AgentKind,
    engine: row.engine,
    engineTaskId: row.engine_task_id,
    labels: fromJson(row.labels, 'agents.labels'),
    capacity: { cpus: row.cpus, memoryMiB: row.memory_mib },
    status: row.status as AgentStatus,
    version: row.version,
    lastSeenAt: row.last_seen_at,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export function agents(ctx: StoreContext): Agents {
  const { db } = ctx;
  return {
    async register(input) {
      const now = ctx.now();
      const fields = {
        kind: input.kind,
        engine: input.engine ?? null,
        engine_task_id: input.engineTaskId ?? null,
        labels: toJson(input.labels),
        cpus: input.capacity.cpus,
        memory_mib: input.capacity.memoryMiB,
        status: 'online',
        version: input.version ?? null,
        last_seen_at: now,
        updated_at: now,
      };
      const row = await db
        .insertInto('agents')
        .values({ name: input.name, created_at: now, ...fields })
        .onConflict((oc) => oc.column('name').doUpdateSet(fields))
        .returningAll()
        .executeTakeFirstOrThrow();
      return toAgent(row);
    },

    async get(id) {
      const row = await db.selectFrom('agents').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toAgent(row);
    },

    async getByName(name) {
      const row = await db.selectFrom('agents').selectAll().where('name', '=', name).executeTakeFirst();
      return row === undefined ? null : toAgent(row);
    },

    async heartbeat(id, now) {
      return touched(await db.updateTable('agents').set({ last_seen_at: now }).where('id', '=', id).executeTakeFirst());
    },

    async setStatus({ id, from, to }) {
      if (from.length === 0) return false;
      const result = await db
        .updateTable('agents')
        .set({ status: to, updated_at: ctx.now() })
        .where('id', '=', id)
        .where('status', 'in', from)
        .executeTakeFirst();
      return touched(result);
    },

    async list(filter = {}) {
      const limit = pageLimit(filter);
      const after = decodeCursor('agents', filter.cursor, 'number');
      let query = db.selectFrom('agents').selectAll().orderBy('id').limit(limit + 1);
      if (filter.status !== undefined) query = query.where('status', '=', filter.status);
      if (after !== null) query = query.where('id', '>', after);
      return toPage(await query.execute(), limit, 'agents', (row) => row.id, toAgent);
    },

    async delete(id) {
      return touched(await db.deleteFrom('agents').where('id', '=', id).executeTakeFirst());
    },

    async staleSince(ts) {
      const rows = await db
        .selectFrom('agents')
        .selectAll()
        .where('status', '=', 'online')
        .where('last_seen_at', '<', ts)
        .orderBy('last_seen_at')
        .execute();
      return rows.map(toAgent);
    },
  };
}
