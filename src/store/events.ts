import { sql, type Selectable } from 'kysely';
import { atomic, type StoreContext } from './context.js';
import type { EventsTable } from './database.js';
import { fromJson, toJson } from './values.js';

export type StoredEvent = {
  /** Increases with every append and is never reused: the SSE Last-Event-ID. */
  id: number;
  /** 'build.updated', 'job.updated', 'agent.updated'… */
  type: string;
  projectId: number | null;
  payload: unknown;
  createdAt: number;
};

export type Events = {
  /**
   * Appends an event; inside a transaction it becomes visible when, and only if, the
   * transaction commits. Event ids become visible in increasing order, so a reader that
   * resumes after id N misses nothing: on PostgreSQL an append locks the events table
   * against other appends until its transaction ends. So append events as the last write
   * of a transaction: a transaction that appends and then waits on a row another appending
   * transaction holds would deadlock with it.
   */
  append(input: { type: string; projectId?: number | null; payload: unknown }): Promise<StoredEvent>;
  /** Events with id > afterId, oldest first. */
  listAfter(afterId: number, limit: number): Promise<StoredEvent[]>;
  /** The id of the newest event; 0 when there has never been one. */
  latestId(): Promise<number>;
  /** Deletes events created before ts, except the newest event (which keeps latestId right). Returns how many. */
  pruneBefore(ts: number): Promise<number>;
};

function toEvent(row: Selectable<EventsTable>): StoredEvent {
  return {
    id: row.id,
    type: row.type,
    projectId: row.project_id,
    payload: fromJson<unknown>(row.payload, 'events.payload'),
    createdAt: row.created_at,
  };
}

export function events(ctx: StoreContext): Events {
  const { db } = ctx;
  return {
    append({ type, projectId, payload }) {
      return atomic(ctx, async (tx) => {
        // PostgreSQL hands out identity values at insert time, not at commit: without the
        // lock, id 8 could commit before id 7, and a reader that saw 8 would skip 7 forever.
        // EXCLUSIVE mode still lets readers read. SQLite runs one writer at a time anyway.
        if (tx.dialect === 'postgres') await sql`lock table events in exclusive mode`.execute(tx.db);
        const row = await tx.db
          .insertInto('events')
          .values({ type, project_id: projectId ?? null, payload: toJson(payload), created_at: tx.now() })
          .returningAll()
          .executeTakeFirstOrThrow();
        return toEvent(row);
      });
    },

    async listAfter(afterId, limit) {
      const rows = await db.selectFrom('events').selectAll().where('id', '>', afterId).orderBy('id').limit(limit).execute();
      return rows.map(toEvent);
    },

    async latestId() {
      const row = await db
        .selectFrom('events')
        .select((eb) => eb.fn.max('id').as('latest'))
        .executeTakeFirst();
      return row?.latest == null ? 0 : Number(row.latest);
    },

    async pruneBefore(ts) {
      const result = await db
        .deleteFrom('events')
        .where('created_at', '<', ts)
        .where('id', '<', (eb) => eb.selectFrom('events').select((inner) => inner.fn.max('id').as('latest')))
        .executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
