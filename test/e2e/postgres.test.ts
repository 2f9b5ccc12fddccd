import { randomBytes } from 'node:crypto';
import type { E2eDatabase, E2eTarget } from './scene.js';
import { e2eSuite } from './suite.js';
import { adminPool, postgresSuiteOptions, postgresTestUrl } from '../support/postgres.js';

const url = postgresTestUrl;
// Makes and drops the test schemas; each test database is a schema of its own.
const admin = adminPool(1);

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

const options = await postgresSuiteOptions(admin, 'end-to-end suite');

if (options !== null) {
  const skip = options.skip;
  e2eSuite('Slipway end to end on PostgreSQL', postgres, skip === undefined ? {} : { skip });
}
