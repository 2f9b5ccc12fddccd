import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setImmediate as nextTurn } from 'node:timers/promises';
import BetterSqlite3 from 'better-sqlite3';
import { openStore, parseStoreUrl, type Store } from '../../src/store/index.js';
import { aProject, rejectsWith, testClock, type StoreTarget } from './harness.js';
import { storeSuite } from './suite.js';

const sqlite: StoreTarget = {
  dialect: 'sqlite',
  async freshDatabase() {
    const dir = await mkdtemp(path.join(tmpdir(), 'slipway-store-'));
    const file = path.join(dir, 'slipway.db');
    const clock = testClock();
    const stores: Store[] = [];
    return {
      clock,
      async open() {
        const store = await openStore({ url: `sqlite:${file}`, clock: clock.now });
        stores.push(store);
        return store;
      },
      async drop() {
        for (const store of stores) await store.close();
        await rm(dir, { recursive: true, force: true });
      },
    };
  },
};

storeSuite('store on SQLite', sqlite);

describe('store on an SQLite file', () => {
  let dir = '';
  before(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'slipway-store-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('accepts sqlite: URLs, plain file paths and :memory:', async () => {
    assert.deepEqual(parseStoreUrl('sqlite:/var/lib/slipway/slipway.db'), { dialect: 'sqlite', file: '/var/lib/slipway/slipway.db' });
    assert.deepEqual(parseStoreUrl('sqlite:///var/lib/slipway.db'), { dialect: 'sqlite', file: '/var/lib/slipway.db' });
    assert.deepEqual(parseStoreUrl('sqlite:data/slipway.db'), { dialect: 'sqlite', file: path.resolve('data/slipway.db') });
    assert.deepEqual(parseStoreUrl('/srv/slipway.db'), { dialect: 'sqlite', file: '/srv/slipway.db' });
    assert.deepEqual(parseStoreUrl(':memory:'), { dialect: 'sqlite', file: ':memory:' });
    assert.deepEqual(parseStoreUrl('sqlite::memory:'), { dialect: 'sqlite', file: ':memory:' });
    assert.deepEqual(parseStoreUrl('postgresql://u:p@db/slipway'), { dialect: 'postgres', connectionString: 'postgresql://u:p@db/slipway' });
    const memory = await openStore({ url: ':memory:' });
    try {
      assert.equal(memory.dialect, 'sqlite');
      assert.ok(await aProject(memory));
    } finally {
      await memory.close();
    }
  });

  it('refuses a URL of a database it does not support, or none, with CONFIG_INVALID', async () => {
    await rejectsWith(openStore({ url: 'mysql://root@localhost/slipway' }), 'CONFIG_INVALID', /unsupported database "mysql"/);
    await rejectsWith(openStore({ url: '  ' }), 'CONFIG_INVALID', /empty/);
    await rejectsWith(openStore({ url: 'sqlite://host/x.db' }), 'CONFIG_INVALID', /names a host/);
  });

  it('creates the directory of a new database file and keeps the file in write-ahead-log mode', async () => {
    const file = path.join(dir, 'nested', 'deeper', 'slipway.db');
    const store = await openStore({ url: `sqlite:${file}` });
    await store.close();
    assert.ok(existsSync(file));
    const raw = new BetterSqlite3(file, { readonly: true });
    try {
      assert.equal(raw.pragma('journal_mode', { simple: true }), 'wal');
    } finally {
      raw.close();
    }
  });

  it('rolls a failed migration back completely, so the next start can apply it', async () => {
    const file = path.join(dir, 'half-migrated.db');
    const raw = new BetterSqlite3(file);
    try {
      // A table in the way makes the first migration fail after it has created others.
      raw.exec('create table agents (id integer primary key)');
      await rejectsWith(openStore({ url: `sqlite:${file}` }), 'INTERNAL', /migration 0001-initial failed, nothing was changed/);
      const tables = raw.prepare("select name from sqlite_master where type = 'table' and name = 'projects'").all();
      assert.deepEqual(tables, [], 'no table of the failed migration is left');
      raw.exec('drop table agents');
    } finally {
      raw.close();
    }
    const store = await openStore({ url: `sqlite:${file}` });
    try {
      assert.ok(await aProject(store));
    } finally {
      await store.close();
    }
  });

  it('waits for another connection to finish its write transaction instead of failing', async () => {
    const file = path.join(dir, 'locked.db');
    const store = await openStore({ url: `sqlite:${file}` });
    const other = new BetterSqlite3(file);
    try {
      other.exec('begin immediate');
      let settled = false;
      const write = aProject(store).finally(() => {
        settled = true;
      });
      await nextTurn(); // the write has met the lock and is backing off
      assert.equal(settled, false);
      other.exec('commit');
      assert.ok((await write).id > 0);
    } finally {
      other.close();
      await store.close();
    }
  });

  it('gives up with a clear error when another connection holds the lock too long', async () => {
    const file = path.join(dir, 'held.db');
    const store = await openStore({ url: `sqlite:${file}`, busyTimeoutMs: 30 });
    const other = new BetterSqlite3(file);
    try {
      other.exec('begin immediate');
      await rejectsWith(aProject(store), 'INTERNAL', /stayed locked by another writer for 30 ms/);
      other.exec('rollback');
      assert.ok(await aProject(store));
    } finally {
      other.close();
      await store.close();
    }
  });
});
