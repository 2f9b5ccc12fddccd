import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import pg from 'pg';
import { messageOf } from '../../src/errors/index.js';
import { redactUrl } from '../../src/store/index.js';
import type { E2eDatabase, E2eTarget } from './scene.js';
import { e2eSuite } from './suite.js';

const url = process.env.SLIPWAY_TEST_POSTGRES_URL ?? 'postgres://slipway:slipway@127.0.0.1:5432/slipway_test';

// Makes and drops each test's schema; the servers under test open their own pools.
const admin = new pg.Pool({ connectionString: url, max: 1, connectionTimeoutMillis: 3000 });
admin.on('error', (error) => console.error('e2e admin pool: idle connection failed', error));
after(() => admin.end());

async function unreachableReason(): Promise<string | null> {
  try {
    await admin.query('select 1');
    return null;
  } catch (error) {
    return messageOf(error);
  }
}

let schemas = 0;

/**
 * A fresh schema, named to the server by its URL: libpq's `options=-c search_path=...`
 * parameter, which node-postgres passes on each connection (the server has no schema flag).
 */
async function freshSchema(): Promise<E2eDatabase> {
  schemas += 1;
  const schema = `slipway_e2e_${process.pid}_${schemas}_${randomBytes(3).toString('hex')}`;
  // The store needs the schema to exist: with a search_path naming none, current_schema() is null.
  await admin.query(`create schema ${schema}`);
  return {
    url: `${url}${url.includes('?') ? '&' : '?'}options=${encodeURIComponent(`-c search_path=${schema}`)}`,
    async check() {
      const { rows } = await admin.query("select 1 from information_schema.tables where table_schema = $1 and table_name = 'projects'", [schema]);
      if (rows.length !== 1) throw new Error(`the server did not make its tables in schema ${schema}: is options=-c search_path=... in the URL passed on?`);
    },
    drop: async () => void (await admin.query(`drop schema if exists ${schema} cascade`)),
  };
}

const postgres: E2eTarget = { name: 'postgres', freshDatabase: freshSchema };

const reason = await unreachableReason();

if (reason !== null && process.env.CI) {
  test('PostgreSQL is reachable for the end-to-end suite (CI must test PostgreSQL)', () => {
    assert.fail(`cannot reach PostgreSQL at ${redactUrl(url)}: ${reason}; run scripts/test-env.sh or set SLIPWAY_TEST_POSTGRES_URL`);
  });
} else {
  const skip = reason === null ? undefined : `PostgreSQL is not reachable at ${redactUrl(url)} (${reason}); start it with scripts/test-env.sh or set SLIPWAY_TEST_POSTGRES_URL`;
  e2eSuite('Slipway end to end on PostgreSQL', postgres, skip === undefined ? {} : { skip });
}
