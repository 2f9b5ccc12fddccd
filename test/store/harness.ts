import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before } from 'node:test';
import { isSlipwayError } from '../../src/errors/index.js';
import type { NewJob, Store } from '../../src/store/index.js';

/** A clock the test moves by hand; every store of one test database reads it. */
export type TestClock = { now(): number; advance(ms: number): number };

export function testClock(start = 1_700_000_000_000): TestClock {
  let current = start;
  return {
    now: () => current,
    advance: (ms) => (current += ms),
  };
}

/** One empty database of a suite; open() may be called again for a second Store on it. */
export type TestDatabase = {
  readonly clock: TestClock;
  open(): Promise<Store>;
  /** Closes every store opened on it and removes the database. */
  drop(): Promise<void>;
};

/** How a conformance run gets its databases: SQLite files, PostgreSQL schemas. */
export type StoreTarget = {
  readonly dialect: 'sqlite' | 'postgres';
  freshDatabase(): Promise<TestDatabase>;
};

/**
 * Gives the tests of the enclosing describe a fresh database and one Store on it, removed
 * afterwards. Tests in one describe share it, so each makes its own rows (unique names).
 */
export function useDatabase(target: StoreTarget): { readonly store: Store; readonly database: TestDatabase } {
  let database: TestDatabase | undefined;
  let store: Store | undefined;
  before(async () => {
    database = await target.freshDatabase();
    store = await database.open();
  });
  after(async () => {
    await database?.drop();
  });
  return {
    get store() {
      if (store === undefined) throw new Error('the store is opened in before()');
      return store;
    },
    get database() {
      if (database === undefined) throw new Error('the database is made in before()');
      return database;
    },
  };
}

let counter = 0;

/** A name no other test uses: prefix-N-random. */
export function unique(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${randomBytes(3).toString('hex')}`;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

export function aJob(name: string, overrides: Partial<NewJob> = {}): NewJob {
  return { name, stage: 'test', status: 'pending', spec: { name, script: ['npm test'] }, labels: ['linux'], ...overrides };
}

export async function aProject(store: Pick<Store, 'projects'>, overrides: { priority?: number } = {}) {
  return store.projects.create({ name: unique('proj'), repositoryUrl: 'https://git.example.com/team/app.git', ...overrides });
}

/** A project with one build of the given jobs (pending by default). */
export async function aBuild(store: Pick<Store, 'projects' | 'builds'>, jobs: NewJob[] = [aJob('test')], projectId?: number) {
  const project = projectId === undefined ? await aProject(store) : await store.projects.getOrThrow(projectId);
  const created = await store.builds.create({
    build: { projectId: project.id, status: 'pending', ref: 'main', commitSha: 'a'.repeat(40), source: 'push' },
    jobs,
  });
  return { project, ...created };
}

export async function anAgent(store: Pick<Store, 'agents'>, labels: string[] = ['linux']) {
  return store.agents.register({ name: unique('agent'), kind: 'registered', labels, capacity: { cpus: 2, memoryMiB: 4096 } });
}

/** Asserts that the promise rejects with a SlipwayError of this code whose message matches. */
export async function rejectsWith(promise: Promise<unknown>, code: string, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (error: unknown) => {
    assert.ok(isSlipwayError(error), `expected a SlipwayError, got ${String(error)}`);
    assert.equal(error.code, code);
    if (message !== undefined) assert.match(error.message, message);
    return true;
  });
}
