import BetterSqlite3 from 'better-sqlite3';
import { Kysely, sql } from 'kysely';
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import pg from 'pg';
import { SlipwayError, messageOf } from '../errors/index.js';
import type { Database } from './database.js';
import { stderrLogger, type StoreLogger } from './logger.js';
import { migrate } from './migrations/index.js';
import { postgresDialect } from './postgres-dialect.js';
import { sqliteDialect } from './sqlite-dialect.js';
import { makeStore, type Store } from './store.js';

export type StoreOptions = {
  /**
   * `sqlite:/abs/path.db`, `sqlite:relative.db`, a plain file path, `:memory:`, or
   * `postgres://user:password@host:5432/database` (also `postgresql://`).
   */
  url: string;
  logger?: StoreLogger;
  /** PostgreSQL: keep the tables in this schema (created when missing) instead of the user's default. */
  schema?: string;
  /** SQLite: how long a write waits for another writer (another process) before failing. 5000 when left out. */
  busyTimeoutMs?: number;
  /** PostgreSQL: most connections open at once. 10 when left out. */
  poolSize?: number;
  /** The time the store records; tests inject one. Date.now when left out. */
  clock?: () => number;
};

type Target = { dialect: 'sqlite'; file: string } | { dialect: 'postgres'; connectionString: string };

/** Which database a store URL names. Throws CONFIG_INVALID for a URL it cannot use. */
export function parseStoreUrl(url: string): Target {
  const trimmed = url.trim();
  if (trimmed === '' || trimmed === 'sqlite:') {
    throw new SlipwayError('CONFIG_INVALID', 'the store URL is empty: give sqlite:/path/to/slipway.db or postgres://user:password@host/database');
  }
  if (/^postgres(ql)?:\/\//.test(trimmed)) return { dialect: 'postgres', connectionString: trimmed };
  if (trimmed.startsWith('sqlite:')) {
    let rest = trimmed.slice('sqlite:'.length);
    if (rest.startsWith('///')) rest = rest.slice(2);
    else if (rest.startsWith('//')) {
      throw new SlipwayError('CONFIG_INVALID', `store URL ${trimmed} names a host; SQLite takes a file: sqlite:/absolute/path.db or sqlite:relative/path.db`);
    }
    return { dialect: 'sqlite', file: rest === ':memory:' ? rest : path.resolve(rest) };
  }
  const scheme = /^([a-z][a-z0-9+.-]*):\/\//i.exec(trimmed);
  if (scheme !== null) {
    throw new SlipwayError('CONFIG_INVALID', `unsupported database "${scheme[1]}" in store URL: use sqlite:/path/to/slipway.db or postgres://user:password@host/database`);
  }
  return { dialect: 'sqlite', file: trimmed === ':memory:' ? trimmed : path.resolve(trimmed) };
}

/** The URL with its password hidden, for messages and logs. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password !== '') parsed.password = '***';
    return parsed.toString();
  } catch {
    // Not a WHATWG URL (a bare path, an odd libpq form): hide whatever sits between user: and @.
    return url.replace(/:\/\/([^:/@]*):[^@]*@/, '://$1:***@');
  }
}

/**
 * Opens the database and brings its schema up to date. The Store it returns is shared by
 * the whole server process; close it on shutdown.
 */
export async function openStore(options: StoreOptions): Promise<Store> {
  const logger = options.logger ?? stderrLogger;
  const clock = options.clock ?? Date.now;
  const target = parseStoreUrl(options.url);
  const { db, migrationSchema } =
    target.dialect === 'sqlite'
      ? { db: openSqlite(target.file, options.busyTimeoutMs ?? 5000), migrationSchema: undefined }
      : await openPostgres(target.connectionString, options, logger);
  try {
    await migrate(db as Kysely<unknown>, target.dialect, migrationSchema, logger);
  } catch (error) {
    await db.destroy();
    throw error;
  }
  logger.info({ dialect: target.dialect }, 'store opened');
  return makeStore(db, target.dialect, clock);
}

function openSqlite(file: string, busyTimeoutMs: number): Kysely<Database> {
  let database: BetterSqlite3.Database;
  try {
    if (file !== ':memory:') mkdirSync(path.dirname(file), { recursive: true });
    database = new BetterSqlite3(file);
  } catch (error) {
    throw new SlipwayError('CONFIG_INVALID', `cannot open the SQLite database ${file}: ${messageOf(error)}`, { cause: error });
  }
  try {
    // WAL: readers do not wait for the writer. synchronous=FULL: a commit is on disk when
    // it returns, so a build or a job assignment acknowledged is never lost to a power cut.
    if (file !== ':memory:' && database.pragma('journal_mode', { simple: true }) !== 'wal') {
      const mode: unknown = database.pragma('journal_mode = WAL', { simple: true });
      if (mode !== 'wal') throw new Error(`journal_mode stayed ${String(mode)}`);
    }
    database.pragma('synchronous = FULL');
    database.pragma('foreign_keys = ON');
    // The store waits for the write lock itself, without blocking the event loop (see sqlite-dialect.ts).
    database.pragma('busy_timeout = 0');
  } catch (error) {
    database.close();
    throw new SlipwayError('CONFIG_INVALID', `cannot set up the SQLite database ${file} (write-ahead log, foreign keys): ${messageOf(error)}`, { cause: error });
  }
  return new Kysely<Database>({ dialect: sqliteDialect(database, busyTimeoutMs) });
}

const INT8_OID = 20;

function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value)) {
    throw new SlipwayError('INTERNAL', `PostgreSQL returned ${text}, an integer too large for JavaScript; the store keeps ids, times and sizes below 2^53`);
  }
  return value;
}

// int8 (ids, millisecond times, byte sizes, counts) comes back as a number, as on SQLite.
// Per pool, not pg.types.setTypeParser: that would change every pg client in the process.
const getTypeParser = ((oid: number, format?: string) =>
  oid === INT8_OID && format !== 'binary' ? parseInt8 : pg.types.getTypeParser(oid, format as 'text')) as pg.CustomTypesConfig['getTypeParser'];

const schemaPattern = /^[a-z_][a-z0-9_]{0,62}$/;

async function openPostgres(
  connectionString: string,
  options: StoreOptions,
  logger: StoreLogger,
): Promise<{ db: Kysely<Database>; migrationSchema: string }> {
  const { schema } = options;
  if (schema !== undefined && !schemaPattern.test(schema)) {
    throw new SlipwayError('CONFIG_INVALID', `invalid PostgreSQL schema name "${schema}": use lowercase letters, digits and '_', not starting with a digit`);
  }
  const pool = new pg.Pool({
    connectionString,
    max: options.poolSize ?? 10,
    application_name: 'slipway',
    types: { getTypeParser },
    // search_path on every connection of the pool, set when it connects.
    ...(schema === undefined ? {} : { options: `-c search_path=${schema}` }),
  });
  // An idle connection that breaks (server restart) is dropped from the pool; the next
  // query opens a new one. Without a listener the error would end the process.
  pool.on('error', (error) => logger.error({ err: error }, 'idle PostgreSQL connection failed'));
  const db = new Kysely<Database>({ dialect: postgresDialect(pool) });
  try {
    // Kysely's migrator looks for its own tables in every schema unless told which one.
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(db);
    const migrationSchema = schema ?? rows[0]?.schema ?? null;
    if (migrationSchema === null) {
      throw new Error('the search_path names no schema that exists; set one, or pass the schema option');
    }
    return { db, migrationSchema };
  } catch (error) {
    await db.destroy();
    throw new SlipwayError(
      'INTERNAL',
      `cannot use PostgreSQL at ${redactUrl(connectionString)}: ${messageOf(error)}; check the store URL and that the server is running`,
      { cause: error },
    );
  }
}
