import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aBuild, aJob, anAgent, aProject, rejectsWith, unique, useDatabase, type StoreTarget } from './harness.js';

export function buildTests(target: StoreTarget): void {
  describe('builds', () => {
    const t = useDatabase(target);

    it('creates a build and its jobs together, numbering builds 1, 2, 3 within each project', async () => {
      const project = await aProject(t.store, { priority: 7 });
      const first = await aBuild(t.store, [aJob('lint'), aJob('test', { stage: 'test', status: 'created', labels: ['linux', 'docker'], cpus: 1.5, memoryMiB: 2048, failureAllowed: true })], project.id);
      const second = await aBuild(t.store, [], project.id);
      const other = await aBuild(t.store, []);
      assert.equal(first.build.number, 1);
      assert.equal(second.build.number, 2);
      assert.equal(other.build.number, 1);
      assert.ok(second.build.id > first.build.id, 'build ids are global and increasing');
      assert.deepEqual(first.jobs.map((j) => j.name), ['lint', 'test']);
      const [lint, test] = first.jobs;
      assert.ok(lint && test);
      assert.equal(lint.buildId, first.build.id);
      assert.equal(lint.projectId, project.id);
      assert.equal(lint.priority, 7, 'jobs take the priority of their project');
      assert.equal(lint.queuedAt, t.database.clock.now(), 'a job created pending is queued');
      assert.equal(test.queuedAt, null);
      assert.deepEqual(test.labels, ['linux', 'docker']);
      assert.equal(test.cpus, 1.5);
      assert.equal(test.memoryMiB, 2048);
      assert.equal(test.failureAllowed, true);
      assert.equal(test.attempts, 0);
      assert.deepEqual(await t.store.jobs.listByBuild(first.build.id), first.jobs);
      assert.deepEqual(await t.store.builds.get(first.build.id), first.build);
      assert.deepEqual(await t.store.builds.getByNumber(project.id, 2), second.build);
      assert.equal(await t.store.builds.get(987654), null);
    });

    it('numbers concurrent builds of one project without gaps or duplicates, across two stores', async () => {
      const project = await aProject(t.store);
      const second = await t.database.open();
      const results = await Promise.all(
        Array.from({ length: 12 }, (_, i) =>
          (i % 2 === 0 ? t.store : second).builds.create({
            build: { projectId: project.id, status: 'pending', ref: 'main', commitSha: `sha${i}`, source: 'api' },
            jobs: [aJob('build'), aJob('test')],
          }),
        ),
      );
      const numbers = results.map((r) => r.build.number).sort((a, b) => a - b);
      assert.deepEqual(numbers, Array.from({ length: 12 }, (_, i) => i + 1));
    });

    it('leaves no build behind when one of its jobs cannot be stored, and does not use up its number', async () => {
      const project = await aProject(t.store);
      await rejectsWith(
        t.store.builds.create({
          build: { projectId: project.id, status: 'pending', ref: 'main', commitSha: 'abc', source: 'push' },
          jobs: [aJob('test'), aJob('test')],
        }),
        'CONFLICT',
        /job names must be unique within a build/,
      );
      assert.deepEqual((await t.store.builds.list({ projectId: project.id })).items, []);
      const next = await aBuild(t.store, [aJob('test')], project.id);
      assert.equal(next.build.number, 1);
    });

    it('refuses a build for a project that does not exist with NOT_FOUND', async () => {
      await rejectsWith(
        t.store.builds.create({ build: { projectId: 987654, status: 'pending', ref: 'main', commitSha: 'abc', source: 'api' }, jobs: [] }),
        'NOT_FOUND',
        /project 987654 does not exist/,
      );
    });

    it('stores an invalid pipeline as a finished build in state error with its positioned errors', async () => {
      const project = await aProject(t.store);
      const errors = [{ file: '.slipway.yml', line: 3, column: 5, message: 'unknown key "scirpt": did you mean "script"?' }];
      const { build, jobs } = await t.store.builds.create({
        build: { projectId: project.id, status: 'error', ref: 'main', commitSha: 'abc', source: 'push', errors },
        jobs: [],
      });
      assert.equal(build.status, 'error');
      assert.deepEqual(build.errors, errors);
      assert.equal(build.finishedAt, t.database.clock.now());
      assert.deepEqual(jobs, []);
      assert.deepEqual((await t.store.builds.get(build.id))?.errors, errors);
    });

    it('keeps the plan, the job specs and the variables exactly as given', async () => {
      const project = await aProject(t.store);
      const plan = { file: '.slipway.yml', stages: ['test'], edges: [{ from: 'a', to: 'b', kind: 'needs' }], nested: { n: 1.5, t: true, z: null } };
      const spec = { name: 'a', script: ['echo "ünïcode" \'quotes\''], needs: null, timeoutMs: 3_600_000 };
      const { build, jobs } = await t.store.builds.create({
        build: {
          projectId: project.id,
          status: 'pending',
          ref: 'refs/tags/v1.0',
          commitSha: 'f'.repeat(40),
          commitMessage: 'Fix it\n\nLonger text',
          commitAuthor: 'Ada <ada@example.com>',
          source: 'webhook',
          triggerVariables: { DEPLOY: 'yes' },
          plan,
        },
        jobs: [aJob('a', { spec })],
      });
      const stored = await t.store.builds.get(build.id);
      assert.deepEqual(stored?.plan, plan);
      assert.deepEqual(stored?.triggerVariables, { DEPLOY: 'yes' });
      assert.equal(stored?.commitMessage, 'Fix it\n\nLonger text');
      assert.equal(stored?.errors, null);
      assert.deepEqual((await t.store.jobs.get(jobs[0]?.id ?? 0))?.spec, spec);
    });

    it('lists builds newest first, by project, status and ref, page after page', async () => {
      const project = await aProject(t.store);
      const made = [];
      for (let i = 0; i < 5; i++) {
        made.push(
          await t.store.builds.create({
            build: { projectId: project.id, status: i % 2 === 0 ? 'success' : 'failed', ref: i < 3 ? 'main' : 'dev', commitSha: `c${i}`, source: 'api' },
            jobs: [],
          }),
        );
      }
      const ids = made.map((m) => m.build.id).reverse();
      const seen: number[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof t.store.builds.list>> = await t.store.builds.list({ projectId: project.id, limit: 2, cursor });
        assert.ok(page.items.length <= 2);
        seen.push(...page.items.map((b) => b.id));
        cursor = page.nextCursor;
      } while (cursor !== null);
      assert.deepEqual(seen, ids);
      const failed = await t.store.builds.list({ projectId: project.id, status: 'failed' });
      assert.deepEqual(failed.items.map((b) => b.number), [4, 2]);
      const finished = await t.store.builds.list({ projectId: project.id, status: ['success', 'failed'], ref: 'dev' });
      assert.deepEqual(finished.items.map((b) => b.number), [5, 4]);
      assert.equal(finished.nextCursor, null);
      assert.deepEqual((await t.store.builds.list({ projectId: project.id, status: [] })).items, []);
    });

    it('moves a build only from the statuses allowed, stamping its start and finish', async () => {
      const { build } = await aBuild(t.store);
      const clock = t.database.clock;
      assert.equal(await t.store.builds.setStatus({ id: build.id, from: ['running'], to: 'success' }), false);
      const startedAt = clock.advance(10);
      assert.equal(await t.store.builds.setStatus({ id: build.id, from: ['created', 'pending'], to: 'running' }), true);
      const finishedAt = clock.advance(10);
      const race = await Promise.all([
        t.store.builds.setStatus({ id: build.id, from: ['running'], to: 'success' }),
        t.store.builds.setStatus({ id: build.id, from: ['running'], to: 'canceled' }),
      ]);
      assert.deepEqual(race.filter(Boolean).length, 1);
      const done = await t.store.builds.get(build.id);
      assert.equal(done?.status, race[0] ? 'success' : 'canceled');
      assert.equal(done?.startedAt, startedAt);
      assert.equal(done?.finishedAt, finishedAt);
      // A retry reopens the build: the first start is kept, the finish cleared.
      clock.advance(10);
      assert.equal(await t.store.builds.setStatus({ id: build.id, from: ['success', 'canceled'], to: 'running' }), true);
      const reopened = await t.store.builds.get(build.id);
      assert.equal(reopened?.startedAt, startedAt);
      assert.equal(reopened?.finishedAt, null);
    });

    it('keeps the ref kind, the commit time and the commit before a push, with branch as the default kind', async () => {
      const project = await aProject(t.store);
      const { build: tag } = await t.store.builds.create({
        build: { projectId: project.id, status: 'pending', ref: 'v1.2.0', refKind: 'tag', commitSha: 'b'.repeat(40), commitMessage: 'Release 1.2\n\nNotes', commitAuthor: 'Ada <ada@example.com>', commitTimestamp: 1_690_000_000_000, beforeSha: 'c'.repeat(40), source: 'push' },
        jobs: [],
      });
      assert.deepEqual(
        { refKind: tag.refKind, commitTimestamp: tag.commitTimestamp, beforeSha: tag.beforeSha, logsExpiredAt: tag.logsExpiredAt },
        { refKind: 'tag', commitTimestamp: 1_690_000_000_000, beforeSha: 'c'.repeat(40), logsExpiredAt: null },
      );
      assert.deepEqual(await t.store.builds.get(tag.id), tag);
      const { build: plain } = await aBuild(t.store, [], project.id);
      assert.deepEqual({ refKind: plain.refKind, commitTimestamp: plain.commitTimestamp, beforeSha: plain.beforeSha }, { refKind: 'branch', commitTimestamp: null, beforeSha: null });
    });

    it('lists finished builds whose logs are kept, oldest finished first, until their logs are marked expired or they finish again', async () => {
      const clock = t.database.clock;
      const first = await aBuild(t.store);
      await t.store.builds.setStatus({ id: first.build.id, from: ['pending'], to: 'success' });
      const firstAt = clock.now();
      clock.advance(1000);
      const second = await aBuild(t.store);
      await t.store.builds.setStatus({ id: second.build.id, from: ['pending'], to: 'failed' });
      const running = await aBuild(t.store);
      clock.advance(1000);
      const due = (await t.store.builds.listLogsToExpire(clock.now(), 100)).map((b) => b.id);
      assert.deepEqual(due.filter((id) => [first.build.id, second.build.id, running.build.id].includes(id)), [first.build.id, second.build.id]);
      assert.deepEqual((await t.store.builds.listLogsToExpire(firstAt + 1, 100)).map((b) => b.id).includes(second.build.id), false);
      assert.equal(await t.store.builds.markLogsExpired(first.build.id), true);
      assert.equal((await t.store.builds.get(first.build.id))?.logsExpiredAt, clock.now());
      assert.equal((await t.store.builds.listLogsToExpire(clock.now() + 1, 100)).some((b) => b.id === first.build.id), false);
      // A job of it is retried later: the build finishes again, and its new logs expire in turn.
      clock.advance(1000);
      await t.store.builds.setStatus({ id: first.build.id, from: ['success'], to: 'running' });
      clock.advance(1000);
      await t.store.builds.setStatus({ id: first.build.id, from: ['running'], to: 'success' });
      assert.equal((await t.store.builds.listLogsToExpire(clock.now() + 1, 100)).some((b) => b.id === first.build.id), true);
      assert.equal(await t.store.builds.markLogsExpired(987654), false);
    });

    it('lists the builds that have not finished', async () => {
      const running = await aBuild(t.store);
      const done = await aBuild(t.store);
      await t.store.builds.setStatus({ id: done.build.id, from: ['pending'], to: 'success' });
      const ids = (await t.store.builds.listActive()).map((b) => b.id);
      assert.ok(ids.includes(running.build.id));
      assert.ok(!ids.includes(done.build.id));
    });

    it('creates a build inside a caller transaction, and rolls it back with it', async () => {
      const project = await aProject(t.store);
      await assert.rejects(
        t.store.transaction(async (tx) => {
          await tx.builds.create({ build: { projectId: project.id, status: 'pending', ref: 'main', commitSha: 'x', source: 'api' }, jobs: [aJob('a')] });
          await tx.events.append({ type: 'build.created', projectId: project.id, payload: {} });
          throw new Error('changed my mind');
        }),
        /changed my mind/,
      );
      assert.deepEqual((await t.store.builds.list({ projectId: project.id })).items, []);
      const { build } = await t.store.transaction((tx) =>
        tx.builds.create({ build: { projectId: project.id, status: 'pending', ref: 'main', commitSha: 'x', source: 'api' }, jobs: [aJob('a')] }),
      );
      assert.equal(build.number, 1);
    });
  });

  describe('jobs', () => {
    const t = useDatabase(target);

    it('lets only one of two concurrent transitions of a job win', async () => {
      const { jobs } = await aBuild(t.store, [aJob('deploy', { status: 'manual' })]);
      const id = jobs[0]?.id ?? 0;
      const second = await t.database.open();
      const results = await Promise.all([
        t.store.jobs.setStatus({ id, from: ['manual'], to: 'pending' }),
        second.jobs.setStatus({ id, from: ['manual'], to: 'skipped' }),
      ]);
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal((await t.store.jobs.get(id))?.status, results[0] ? 'pending' : 'skipped');
      assert.equal(await t.store.jobs.setStatus({ id, from: [], to: 'canceled' }), false);
    });

    it('stamps queue, start and finish times and records a failure', async () => {
      const { jobs } = await aBuild(t.store, [aJob('unit', { status: 'created' })]);
      const id = jobs[0]?.id ?? 0;
      const queuedAt = t.database.clock.advance(100);
      assert.equal(await t.store.jobs.setPending({ id, from: ['created'] }), true);
      assert.equal((await t.store.jobs.get(id))?.queuedAt, queuedAt);
      assert.equal(await t.store.jobs.setStatus({ id, from: ['pending'], to: 'running' }), true);
      const finishedAt = t.database.clock.advance(100);
      const failure = { kind: 'script_failure' as const, message: 'exit code 2', exitCode: 2 };
      assert.equal(await t.store.jobs.setStatus({ id, from: ['running'], to: 'failed', failure }), true);
      const job = await t.store.jobs.get(id);
      assert.equal(job?.status, 'failed');
      assert.equal(job?.startedAt, queuedAt);
      assert.equal(job?.finishedAt, finishedAt);
      assert.deepEqual(job?.failure, failure);
    });

    it('lists pending jobs by priority, then queue time, then id, leaving out jobs not due yet', async () => {
      const clock = t.database.clock;
      const low = await aProject(t.store, { priority: 0 });
      const high = await aProject(t.store, { priority: 10 });
      const early = await aBuild(t.store, [aJob('a'), aJob('b')], low.id);
      clock.advance(1000);
      const urgent = await aBuild(t.store, [aJob('c')], high.id);
      const later = await aBuild(t.store, [aJob('d'), aJob('e', { notBefore: clock.now() + 60_000 }), aJob('f', { status: 'created' })], low.id);
      const ours = new Set([...early.jobs, ...urgent.jobs, ...later.jobs].map((j) => j.id));
      const names = async (now: number) =>
        (await t.store.jobs.listPending({ now, limit: 500 })).filter((j) => ours.has(j.id)).map((j) => j.name);
      assert.deepEqual(await names(clock.now()), ['c', 'a', 'b', 'd']);
      assert.deepEqual(await names(clock.now() + 60_000), ['c', 'a', 'b', 'd', 'e']);
    });

    it('requeues a running job with no agent, keeping its attempt count', async () => {
      const { jobs } = await aBuild(t.store);
      const id = jobs[0]?.id ?? 0;
      const agent = await anAgent(t.store);
      assert.ok(await t.store.attempts.assign({ jobId: id, agentId: agent.id, tokenHash: unique('hash') }));
      const requeuedAt = t.database.clock.advance(50);
      assert.equal(await t.store.jobs.requeue({ id, from: ['running'], notBefore: requeuedAt + 5000 }), true);
      const job = await t.store.jobs.get(id);
      assert.equal(job?.status, 'pending');
      assert.equal(job?.agentId, null);
      assert.equal(job?.startedAt, null);
      assert.equal(job?.attempts, 1);
      assert.equal(job?.queuedAt, requeuedAt);
      assert.equal(job?.notBefore, requeuedAt + 5000);
      assert.equal(await t.store.jobs.requeue({ id, from: ['running'] }), false);
    });

    it('lists delayed jobs once their time has come', async () => {
      const now = t.database.clock.now();
      const { jobs } = await aBuild(t.store, [aJob('soon', { status: 'scheduled', notBefore: now + 10 }), aJob('later', { status: 'scheduled', notBefore: now + 1000 })]);
      const ours = new Set(jobs.map((j) => j.id));
      const due = async (at: number) => (await t.store.jobs.listScheduledDue(at)).filter((j) => ours.has(j.id)).map((j) => j.name);
      assert.deepEqual(await due(now), []);
      assert.deepEqual(await due(now + 10), ['soon']);
      assert.deepEqual(await due(now + 1000), ['soon', 'later']);
    });

    it('counts queued and running jobs for metrics and concurrency limits', async () => {
      const database = await target.freshDatabase();
      try {
        const store = await database.open();
        assert.deepEqual(await store.jobs.queueStats(), { pendingJobs: 0, oldestQueuedAt: null, runningJobs: 0 });
        const first = await aBuild(store, [aJob('a'), aJob('b')]);
        const queuedAt = database.clock.now();
        database.clock.advance(500);
        await aBuild(store, [aJob('c'), aJob('d', { status: 'created' })]);
        const agent = await anAgent(store);
        await store.attempts.assign({ jobId: first.jobs[0]?.id ?? 0, agentId: agent.id, tokenHash: unique('h') });
        assert.deepEqual(await store.jobs.queueStats(), { pendingJobs: 2, oldestQueuedAt: queuedAt, runningJobs: 1 });
        assert.deepEqual([...(await store.jobs.countRunningByProject())], [[first.project.id, 1]]);
      } finally {
        await database.drop();
      }
    });
  });
}
