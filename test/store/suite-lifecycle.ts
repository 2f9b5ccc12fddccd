import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aBuild, aJob, aProject, useDatabase, type StoreTarget } from './harness.js';

export function lifecycleTests(target: StoreTarget): void {
  describe('opening, closing and transactions', () => {
    const t = useDatabase(target);

    it('opens an existing database again without migrating it twice, keeping its rows', async () => {
      const { project, build } = await aBuild(t.store);
      const again = await t.database.open();
      const third = await t.database.open();
      assert.deepEqual(await again.builds.get(build.id), build);
      assert.deepEqual(await third.projects.get(project.id), project);
    });

    it('keeps committed rows after the store is closed and opened again', async () => {
      const database = await target.freshDatabase();
      try {
        const first = await database.open();
        const { project, build, jobs } = await aBuild(first, [aJob('a'), aJob('b')]);
        await first.close();
        await first.close(); // closing twice is harmless
        const reopened = await database.open();
        assert.deepEqual(await reopened.projects.get(project.id), project);
        assert.deepEqual(await reopened.builds.get(build.id), build);
        assert.deepEqual(await reopened.jobs.listByBuild(build.id), jobs);
      } finally {
        await database.drop();
      }
    });

    it('opens a new database from two stores at once, migrating it once', async () => {
      // Two servers starting together on one new database: neither may trip over the other's migration.
      const database = await target.freshDatabase();
      try {
        const [a, b] = await Promise.all([database.open(), database.open()]);
        const project = await aProject(a);
        assert.deepEqual(await b.projects.get(project.id), project);
      } finally {
        await database.drop();
      }
    });

    it('commits every write of a transaction together, or none when it throws', async () => {
      const kept = await t.store.transaction(async (tx) => {
        const project = await aProject(tx);
        await tx.secrets.set({ projectId: project.id, name: 'A', ciphertext: 'x' });
        return project;
      });
      assert.deepEqual(await t.store.secrets.listNames(kept.id).then((s) => s.map((x) => x.name)), ['A']);

      let doomedId = 0;
      await assert.rejects(
        t.store.transaction(async (tx) => {
          const project = await aProject(tx);
          doomedId = project.id;
          await tx.secrets.set({ projectId: project.id, name: 'A', ciphertext: 'x' });
          assert.ok(await tx.projects.get(project.id), 'a transaction sees its own writes');
          throw new Error('abort');
        }),
        /abort/,
      );
      assert.ok(doomedId > 0);
      assert.equal(await t.store.projects.get(doomedId), null);
    });

    it('reports the dialect it runs on', () => {
      assert.equal(t.store.dialect, target.dialect);
    });

    it('hands out ids, times and counts as JavaScript numbers', async () => {
      const { build, jobs } = await aBuild(t.store, [aJob('test', { cpus: 1.5 })]);
      const [job] = jobs;
      assert.ok(job);
      for (const value of [build.id, build.projectId, build.createdAt, job.id, job.queuedAt, job.cpus]) {
        assert.equal(typeof value, 'number');
      }
      assert.equal(typeof (await t.store.jobs.queueStats()).pendingJobs, 'number');
    });
  });
}
