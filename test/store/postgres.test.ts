import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { openStore, type Store } from '../../src/store/index.js';
import { aProject, rejectsWith, testClock, type StoreTarget, type TestDatabase } from './harness.js';
import { adminPool, postgresSuiteOptions, postgresTestUrl } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';
import { storeSuite } from './suite.js';

const url = postgresTestUrl;
// Makes and drops the test schemas; each test database is a schema of its own.
const admin = adminPool(2);

let schemas = 0;

function freshSchema(): TestDatabase & { schema: string } {
  schemas += 1;
  const schema = `slipway_test_${process.pid}_${schemas}_${randomBytes(3).toString('hex')}`;
  const clock = testClock();
  const stores: Store[] = [];
  return {
    schema,
    clock,
    async open() {
      const store = await openStore({ url, schema, clock: clock.now, poolSize: 5 });
      stores.push(store);
      return store;
    },
    async drop() {
      for (const store of stores) await store.close();
      await admin.query(`drop schema if exists ${schema} cascade`);
    },
  };
}

const postgres: StoreTarget = { dialect: 'postgres', freshDatabase: async () => freshSchema() };

const options = await postgresSuiteOptions(admin, 'store suite');

if (options !== null) {
  const skip = options.skip;
  storeSuite('store on PostgreSQL', postgres, skip === undefined ? {} : { skip });

  describe('store on a PostgreSQL schema', skip === undefined ? {} : { skip }, () => {
    it('keeps its tables in the schema it is given', async () => {
      const database = freshSchema();
      try {
        const store = await database.open();
        await aProject(store);
        const { rows } = await admin.query("select 1 from information_schema.tables where table_schema = $1 and table_name = 'projects'", [database.schema]);
        assert.equal(rows.length, 1);
        const { rows: publicRows } = await admin.query("select 1 from information_schema.tables where table_schema = 'public' and table_name = 'projects'");
        assert.equal(publicRows.length, 0, 'nothing lands in public');
      } finally {
        await database.drop();
      }
    });

    it('makes a later event wait until an earlier open transaction that appended one ends', async () => {
      // Without the ordering, a reader could see event N+1 commit while N is still open, and
      // resuming after N+1 would lose N for good.
      const database = freshSchema();
      let release = (): void => {};
      const held = new Promise<void>((resolve) => {
        release = resolve;
      });
      const pending: Array<Promise<unknown>> = [];
      try {
        const [first, second] = [await database.open(), await database.open()];
        const start = await first.events.latestId();
        let appended = false;
        const earlier = first.transaction(async (tx) => {
          const event = await tx.events.append({ type: 'build.updated', payload: 'earlier' });
          appended = true;
          await held;
          return event;
        });
        pending.push(earlier);
        await waitFor('the first transaction to append', () => appended);
        const later = second.events.append({ type: 'build.updated', payload: 'later' });
        pending.push(later);
        await waitFor('the second append to wait for the events lock', async () => {
          const { rows } = await admin.query(
            "select 1 from pg_stat_activity where wait_event_type = 'Lock' and query ilike 'lock table events%' and datname = current_database()",
          );
          return rows.length > 0;
        });
        assert.deepEqual(await first.events.listAfter(start, 10), [], 'nothing is visible while the first is open');
        release();
        const [a, b] = await Promise.all([earlier, later]);
        assert.ok(a.id < b.id);
        assert.deepEqual((await first.events.listAfter(start, 10)).map((e) => e.payload), ['earlier', 'later']);
      } finally {
        // On failure the first transaction is still open and would block dropping the schema.
        release();
        await Promise.allSettled(pending);
        await database.drop();
      }
    });

    it('refuses a schema name that is not a plain identifier with CONFIG_INVALID', async () => {
      await rejectsWith(openStore({ url, schema: 'x; drop table users' }), 'CONFIG_INVALID', /invalid PostgreSQL schema name/);
    });
  });
}

describe('opening a PostgreSQL store that cannot be reached', () => {
  it('fails with the address and without the password', async () => {
    // Port 1 on the loopback address: nothing listens there, so the connection is refused at once.
    await rejectsWith(openStore({ url: 'postgres://slipway:hunter2@127.0.0.1:1/slipway' }), 'INTERNAL', /^cannot use PostgreSQL at postgres:\/\/slipway:\*\*\*@127\.0\.0\.1:1\/slipway: .*check the store URL/);
  });
});

