import type BetterSqlite3 from 'better-sqlite3';
import {
  CompiledQuery,
  SqliteAdapter,
  SqliteIntrospector,
  SqliteQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type QueryResult,
} from 'kysely';
import { setTimeout as delay } from 'node:timers/promises';
import { SlipwayError } from '../errors/index.js';

/**
 * Kysely's SQLite dialect with three changes the store relies on:
 *
 * - Transactions begin IMMEDIATE: the write lock is taken at BEGIN, so two writers (two
 *   processes, or two Store instances on one file) queue at the start instead of one of them
 *   failing with SQLITE_BUSY when it first writes after reading.
 * - Waiting for that lock is asynchronous. SQLite's own busy_timeout sleeps inside the
 *   synchronous better-sqlite3 call and so blocks the event loop; when the lock holder is in
 *   the same process (a transaction awaiting between statements) it could never finish.
 *   The connection runs with busy_timeout = 0 and the driver retries a busy BEGIN, or a busy
 *   statement outside a transaction, with backoff until busyTimeoutMs has passed.
 * - The adapter says DDL is transactional, as it is in SQLite. Kysely's says not, and its
 *   migrator then runs migrations outside a transaction: a failed one would leave half its
 *   tables behind, and two processes starting on a new file would both migrate it. In one
 *   IMMEDIATE transaction a migration commits whole or not at all, and the second process
 *   waits at BEGIN, then finds nothing to do.
 *
 * One connection per database handle, used by one caller at a time (a FIFO mutex), as in
 * Kysely's own SQLite driver.
 */
export function sqliteDialect(database: BetterSqlite3.Database, busyTimeoutMs: number): Dialect {
  return {
    createAdapter: () => new TransactionalDdlAdapter(),
    createDriver: () => new SqliteDriver(database, busyTimeoutMs),
    createIntrospector: (db) => new SqliteIntrospector(db),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  };
}

class TransactionalDdlAdapter extends SqliteAdapter {
  override get supportsTransactionalDdl(): boolean {
    return true;
  }
}

class SqliteDriver implements Driver {
  readonly #database: BetterSqlite3.Database;
  readonly #connection: SqliteConnection;
  readonly #mutex = new Mutex();

  constructor(database: BetterSqlite3.Database, busyTimeoutMs: number) {
    this.#database = database;
    this.#connection = new SqliteConnection(database, busyTimeoutMs);
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    await this.#mutex.lock();
    return this.#connection;
  }

  async beginTransaction(): Promise<void> {
    await this.#connection.begin();
  }

  async commitTransaction(): Promise<void> {
    this.#database.exec('commit');
  }

  async rollbackTransaction(): Promise<void> {
    // SQLite has already rolled back after some errors (SQLITE_FULL, an I/O error); a second
    // ROLLBACK would fail and hide the error that caused it.
    if (this.#database.inTransaction) this.#database.exec('rollback');
  }

  async releaseConnection(): Promise<void> {
    this.#mutex.unlock();
  }

  async destroy(): Promise<void> {
    this.#database.close();
  }
}

class SqliteConnection implements DatabaseConnection {
  readonly #database: BetterSqlite3.Database;
  readonly #busyTimeoutMs: number;

  constructor(database: BetterSqlite3.Database, busyTimeoutMs: number) {
    this.#database = database;
    this.#busyTimeoutMs = busyTimeoutMs;
  }

  async begin(): Promise<void> {
    await whileBusy(() => this.#database.exec('begin immediate'), this.#busyTimeoutMs);
  }

  async executeQuery<R>(query: CompiledQuery): Promise<QueryResult<R>> {
    // Inside a transaction this connection holds the write lock, so a statement cannot
    // wait for another writer; outside one, a statement is its own transaction and may.
    if (this.#database.inTransaction) return this.#run<R>(query);
    return whileBusy(() => this.#run<R>(query), this.#busyTimeoutMs);
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new SlipwayError('INTERNAL', 'the store does not stream query results from SQLite');
  }

  #run<R>(query: CompiledQuery): QueryResult<R> {
    const statement = this.#database.prepare(query.sql);
    const parameters = query.parameters as unknown[];
    if (statement.reader) return { rows: statement.all(parameters) as R[] };
    const { changes, lastInsertRowid } = statement.run(parameters);
    return { numAffectedRows: BigInt(changes), insertId: BigInt(lastInsertRowid), rows: [] };
  }
}

function isBusy(error: unknown): boolean {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  return typeof code === 'string' && code.startsWith('SQLITE_BUSY');
}

async function whileBusy<T>(run: () => T, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  // Backoff from 1 ms to 50 ms: a write transaction of the store lasts about a millisecond,
  // and 50 ms bounds how late a waiter notices the lock is free.
  for (let backoffMs = 1; ; backoffMs = Math.min(backoffMs * 2, 50)) {
    try {
      return run();
    } catch (error) {
      if (!isBusy(error)) throw error;
      if (Date.now() >= deadline) {
        throw new SlipwayError(
          'INTERNAL',
          `the SQLite database stayed locked by another writer for ${timeoutMs} ms; another process may hold a long transaction on the same file`,
          { cause: error },
        );
      }
    }
    // jitter: waiters that back off in step would collide again on every retry
    await delay(backoffMs * (0.5 + Math.random()));
  }
}

/** First come, first served: the lock passes straight to the next waiter. */
class Mutex {
  #held = false;
  readonly #waiters: Array<() => void> = [];

  async lock(): Promise<void> {
    if (!this.#held) {
      this.#held = true;
      return;
    }
    await new Promise<void>((resolve) => this.#waiters.push(resolve));
  }

  unlock(): void {
    const next = this.#waiters.shift();
    if (next === undefined) this.#held = false;
    else next();
  }
}
