import type { Kysely } from 'kysely';
import type { Database } from './database.js';

export type DialectName = 'sqlite' | 'postgres';

/** What every table module is built from: where to send queries, and the clock. */
export type StoreContext = {
  /** The whole database, or the open transaction when inTransaction. */
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  /** Milliseconds since the epoch; the time the store records for created/updated/started... */
  readonly now: () => number;
  readonly inTransaction: boolean;
};

/**
 * Runs fn in a transaction: the caller's when there is one (the writes join it and commit
 * or roll back with it), a new one otherwise. For operations whose writes must land together.
 */
export function atomic<T>(ctx: StoreContext, fn: (tx: StoreContext) => Promise<T>): Promise<T> {
  if (ctx.inTransaction) return fn(ctx);
  return ctx.db.transaction().execute((trx) => fn({ ...ctx, db: trx, inTransaction: true }));
}

/** Whether an UPDATE or DELETE touched a row: how compare-and-set operations report winning. */
export function touched(result: { numUpdatedRows: bigint } | { numDeletedRows: bigint }): boolean {
  return ('numUpdatedRows' in result ? result.numUpdatedRows : result.numDeletedRows) > 0n;
}
