import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aBuild, aProject, rejectsWith, unique, useDatabase, type StoreTarget } from './harness.js';

export function projectTests(target: StoreTarget): void {
  describe('projects', () => {
    const t = useDatabase(target);

    it('creates a project with defaults and reads it back by id and by name', async () => {
      const name = unique('web');
      const created = await t.store.projects.create({ name, repositoryUrl: 'https://git.example.com/web.git', variables: { NODE: '20' } });
      assert.equal(typeof created.id, 'number');
      assert.equal(created.defaultBranch, 'main');
      assert.equal(created.pipelinePath, '.slipway.yml');
      assert.equal(created.priority, 0);
      assert.equal(created.concurrencyLimit, null);
      assert.equal(created.pollIntervalSeconds, null);
      assert.equal(created.createdAt, t.database.clock.now());
      assert.deepEqual(created.variables, { NODE: '20' });
      assert.deepEqual(await t.store.projects.get(created.id), created);
      assert.deepEqual(await t.store.projects.getByName(name), created);
    });

    it('refuses a second project with the same name, saying to choose another name', async () => {
      const project = await aProject(t.store);
      await rejectsWith(
        t.store.projects.create({ name: project.name, repositoryUrl: 'https://elsewhere.example.com/x.git' }),
        'CONFLICT',
        /already exists; choose another name/,
      );
    });

    it('refuses a project name that is not lowercase letters, digits, dots, dashes and underscores', async () => {
      for (const name of ['Web', '-web', 'web app', '', 'wéb']) {
        await rejectsWith(t.store.projects.create({ name, repositoryUrl: 'https://x.example.com/x.git' }), 'USAGE', /invalid project name/);
      }
    });

    it('returns null for a project that does not exist, and getOrThrow says NOT_FOUND', async () => {
      assert.equal(await t.store.projects.get(987654), null);
      assert.equal(await t.store.projects.getByName('no-such-project'), null);
      await rejectsWith(t.store.projects.getOrThrow(987654), 'NOT_FOUND', /project 987654 does not exist/);
    });

    it('updates only the fields given and moves updatedAt', async () => {
      const project = await aProject(t.store);
      t.database.clock.advance(1000);
      const updated = await t.store.projects.update(project.id, { priority: 5, concurrencyLimit: 2, lastPolledCommit: 'abc' });
      assert.ok(updated);
      assert.equal(updated.priority, 5);
      assert.equal(updated.concurrencyLimit, 2);
      assert.equal(updated.lastPolledCommit, 'abc');
      assert.equal(updated.name, project.name);
      assert.equal(updated.repositoryUrl, project.repositoryUrl);
      assert.equal(updated.updatedAt, project.updatedAt + 1000);
      const cleared = await t.store.projects.update(project.id, { concurrencyLimit: null });
      assert.equal(cleared?.concurrencyLimit, null);
      assert.equal(await t.store.projects.update(987654, { priority: 1 }), null);
    });

    it('refuses to rename a project to a name another project has', async () => {
      const a = await aProject(t.store);
      const b = await aProject(t.store);
      await rejectsWith(t.store.projects.update(b.id, { name: a.name }), 'CONFLICT', /choose another name/);
    });

    it('pages through projects by name with cursors that stay valid while projects are added', async () => {
      const prefix = unique('page');
      // A fresh name range: every other test's names sort before 'zz'.
      const names = Array.from({ length: 7 }, (_, i) => `zz-${prefix}-${i}`);
      for (const name of names) await t.store.projects.create({ name, repositoryUrl: 'https://x.example.com/x.git' });
      const first = await t.store.projects.list({ limit: 3, cursor: null });
      const seen: string[] = [];
      let page = first;
      let cursor = first.nextCursor;
      seen.push(...page.items.map((p) => p.name));
      // A project that sorts before the cursor does not shift the next pages.
      await t.store.projects.create({ name: '0-added-while-paging', repositoryUrl: 'https://x.example.com/x.git' });
      while (cursor !== null) {
        page = await t.store.projects.list({ limit: 3, cursor });
        seen.push(...page.items.map((p) => p.name));
        cursor = page.nextCursor;
      }
      const ours = seen.filter((name) => name.startsWith('zz-'));
      assert.deepEqual(ours, names);
      assert.equal(new Set(seen).size, seen.length, 'no project served twice');
      assert.ok(!seen.includes('0-added-while-paging'));
    });

    it('rejects a cursor of another list or a damaged cursor with USAGE', async () => {
      await aBuild(t.store);
      await aBuild(t.store);
      const builds = await t.store.builds.list({ limit: 1 });
      assert.ok(builds.nextCursor);
      await rejectsWith(t.store.projects.list({ cursor: builds.nextCursor }), 'USAGE', /does not belong to the projects list/);
      await rejectsWith(t.store.projects.list({ cursor: 'not a cursor' }), 'USAGE');
      await rejectsWith(t.store.projects.list({ limit: 0 }), 'USAGE', /page limit/);
    });

    it('lists the projects that have polling on', async () => {
      const polled = await t.store.projects.create({ name: unique('polled'), repositoryUrl: 'https://x.example.com/x.git', pollIntervalSeconds: 60 });
      const quiet = await aProject(t.store);
      const ids = (await t.store.projects.listPolled()).map((p) => p.id);
      assert.ok(ids.includes(polled.id));
      assert.ok(!ids.includes(quiet.id));
    });

    it('deletes a project with its secrets, schedules, builds, jobs, attempts, artifacts and caches', async () => {
      const { project, build, jobs } = await aBuild(t.store);
      const job = jobs[0];
      assert.ok(job);
      const agent = await t.store.agents.register({ name: unique('agent'), kind: 'registered', labels: [], capacity: { cpus: 1, memoryMiB: 512 } });
      const attempt = await t.store.attempts.assign({ jobId: job.id, agentId: agent.id, tokenHash: unique('hash') });
      assert.ok(attempt);
      await t.store.secrets.set({ projectId: project.id, name: 'TOKEN', ciphertext: 'x' });
      const schedule = await t.store.schedules.create({ projectId: project.id, cron: '0 * * * *', ref: 'main', nextRunAt: 1 });
      const artifact = await t.store.artifacts.create({ id: unique('art'), jobId: job.id, buildId: build.id, attempt: 1, name: 'dist', sizeBytes: 1, fileCount: 1, storagePath: 'a/b' });
      await t.store.caches.put({ projectId: project.id, key: 'npm', blobId: 'blob', sizeBytes: 1 });
      await t.store.webhookDeliveries.recordOnce({ projectId: project.id, provider: 'github', deliveryId: 'd1' });

      assert.equal(await t.store.projects.delete(project.id), true);
      assert.equal(await t.store.projects.delete(project.id), false);
      assert.equal(await t.store.builds.get(build.id), null);
      assert.equal(await t.store.jobs.get(job.id), null);
      assert.equal(await t.store.attempts.get(attempt.id), null);
      assert.deepEqual(await t.store.secrets.listNames(project.id), []);
      assert.equal(await t.store.schedules.get(schedule.id), null);
      assert.equal(await t.store.artifacts.get(artifact.id), null);
      assert.equal(await t.store.caches.get(project.id, 'npm'), null);
      assert.ok(await t.store.agents.get(agent.id), 'agents do not belong to a project');
    });
  });

  describe('project secrets', () => {
    const t = useDatabase(target);

    it('sets, replaces and deletes secrets, listing names without their values', async () => {
      const project = await aProject(t.store);
      await t.store.secrets.set({ projectId: project.id, name: 'NPM_TOKEN', ciphertext: 'v1:aaa' });
      await t.store.secrets.set({ projectId: project.id, name: 'AWS_KEY', ciphertext: 'v1:bbb' });
      t.database.clock.advance(5);
      await t.store.secrets.set({ projectId: project.id, name: 'NPM_TOKEN', ciphertext: 'v1:ccc' });
      const now = t.database.clock.now();
      assert.deepEqual(await t.store.secrets.listNames(project.id), [
        { name: 'AWS_KEY', updatedAt: now - 5 },
        { name: 'NPM_TOKEN', updatedAt: now },
      ]);
      assert.deepEqual(await t.store.secrets.listEncrypted(project.id), [
        { name: 'AWS_KEY', ciphertext: 'v1:bbb' },
        { name: 'NPM_TOKEN', ciphertext: 'v1:ccc' },
      ]);
      assert.equal(await t.store.secrets.delete(project.id, 'AWS_KEY'), true);
      assert.equal(await t.store.secrets.delete(project.id, 'AWS_KEY'), false);
      assert.deepEqual((await t.store.secrets.listNames(project.id)).map((s) => s.name), ['NPM_TOKEN']);
    });

    it('refuses a secret for a project that does not exist with NOT_FOUND', async () => {
      await rejectsWith(t.store.secrets.set({ projectId: 987654, name: 'X', ciphertext: 'y' }), 'NOT_FOUND', /project 987654/);
    });
  });

  describe('schedules', () => {
    const t = useDatabase(target);

    it('lists enabled schedules that are due, most overdue first', async () => {
      const project = await aProject(t.store);
      const now = t.database.clock.now();
      const late = await t.store.schedules.create({ projectId: project.id, cron: '0 * * * *', ref: 'main', nextRunAt: now - 5000, variables: { NIGHTLY: '1' } });
      const due = await t.store.schedules.create({ projectId: project.id, cron: '0 * * * *', ref: 'main', nextRunAt: now });
      const future = await t.store.schedules.create({ projectId: project.id, cron: '0 * * * *', ref: 'main', nextRunAt: now + 1 });
      const off = await t.store.schedules.create({ projectId: project.id, cron: '0 * * * *', ref: 'main', nextRunAt: now - 9000, enabled: false });
      const ids = (await t.store.schedules.due(now)).map((s) => s.id);
      assert.deepEqual(ids.filter((id) => [late.id, due.id, future.id, off.id].includes(id)), [late.id, due.id]);
      assert.deepEqual(late.variables, { NIGHTLY: '1' });
      assert.equal(late.enabled, true);
      assert.equal(off.enabled, false);
    });

    it('lets only one of two servers mark a due schedule as run', async () => {
      const project = await aProject(t.store);
      const now = t.database.clock.now();
      const schedule = await t.store.schedules.create({ projectId: project.id, cron: '*/5 * * * *', ref: 'main', nextRunAt: now });
      const second = await t.database.open();
      const mark = { id: schedule.id, expectedNextRunAt: now, lastRunAt: now, nextRunAt: now + 300_000 };
      const results = await Promise.all([t.store.schedules.markRun(mark), second.schedules.markRun(mark), t.store.schedules.markRun(mark)]);
      assert.equal(results.filter(Boolean).length, 1);
      const after = await t.store.schedules.get(schedule.id);
      assert.equal(after?.lastRunAt, now);
      assert.equal(after?.nextRunAt, now + 300_000);
      assert.ok(!(await t.store.schedules.due(now)).some((s) => s.id === schedule.id));
    });

    it('lists, updates and deletes the schedules of a project', async () => {
      const project = await aProject(t.store);
      const a = await t.store.schedules.create({ projectId: project.id, cron: '0 3 * * *', ref: 'main', nextRunAt: null });
      const b = await t.store.schedules.create({ projectId: project.id, cron: '0 4 * * *', ref: 'release', nextRunAt: 10 });
      assert.deepEqual((await t.store.schedules.list(project.id)).map((s) => s.id), [a.id, b.id]);
      const updated = await t.store.schedules.update(b.id, { enabled: false, nextRunAt: null, variables: { X: '1' } });
      assert.equal(updated?.enabled, false);
      assert.equal(updated?.nextRunAt, null);
      assert.deepEqual(updated?.variables, { X: '1' });
      assert.equal(updated?.cron, '0 4 * * *');
      assert.equal(await t.store.schedules.delete(a.id), true);
      assert.equal(await t.store.schedules.delete(a.id), false);
      assert.deepEqual((await t.store.schedules.list(project.id)).map((s) => s.id), [b.id]);
      await rejectsWith(t.store.schedules.create({ projectId: 987654, cron: '* * * * *', ref: 'main', nextRunAt: 1 }), 'NOT_FOUND');
    });
  });
}
