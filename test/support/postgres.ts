import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import pg from 'pg';
import { messageOf } from '../../src/errors/index.js';
import { redactUrl } from '../../src/store/index.js';

/** The PostgreSQL the suites use; scripts/test-env.sh creates it. Each suite works in schemas of its own. */
export const postgresTestUrl = process.env.SLIPWAY_TEST_POSTGRES_URL ?? 'postgres://slipway:slipway@127.0.0.1:5432/slipway_test';

/** A small pool for making and dropping test schemas, ended after the file's tests. */
export function adminPool(max = 1): pg.Pool {
  const pool = new pg.Pool({ connectionString: postgresTestUrl, max, connectionTimeoutMillis: 3000 });
  pool.on('error', (error) => console.error('test admin pool: idle connection failed', error));
  after(() => pool.end());
  return pool;
}

/** Null when PostgreSQL answers, else why it does not. */
export async function unreachableReason(pool: pg.Pool): Promise<string | null> {
  try {
    await pool.query('select 1');
    return null;
  } catch (error) {
    return messageOf(error);
  }
}

/**
 * Whether a PostgreSQL suite runs here. Unreachable on CI is a failure (CI must test
 * PostgreSQL): a failing test is registered and null returned. Elsewhere the suite is
 * skipped with the reason.
 */
export async function postgresSuiteOptions(pool: pg.Pool, suite: string): Promise<{ skip?: string } | null> {
  const reason = await unreachableReason(pool);
  if (reason === null) return {};
  const where = `PostgreSQL is not reachable at ${redactUrl(postgresTestUrl)} (${reason})`;
  if (process.env.CI) {
    test(`PostgreSQL is reachable for the ${suite} (CI must test PostgreSQL)`, () => {
      assert.fail(`${where}; run scripts/test-env.sh or set SLIPWAY_TEST_POSTGRES_URL`);
    });
    return null;
  }
  return { skip: `${where}; start it with scripts/test-env.sh or set SLIPWAY_TEST_POSTGRES_URL` };
}
