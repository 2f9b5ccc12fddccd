import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aBuild, aProject, rejectsWith, unique, useDatabase, type StoreTarget } from './harness.js';

export function recordTests(target: StoreTarget): void {
  describe('events', () => {
    const t = useDatabase(target);

    it('lists events after an id in order, and a reader resumes from the last id it saw', async () => {
      const start = await t.store.events.latestId();
      const project = await aProject(t.store);
      for (let i = 0; i < 5; i++) await t.store.events.append({ type: 'job.updated', projectId: project.id, payload: { i } });
      const firstRead = await t.store.events.listAfter(start, 3);
      assert.deepEqual(firstRead.map((e) => e.payload), [{ i: 0 }, { i: 1 }, { i: 2 }]);
      assert.equal(firstRead[0]?.projectId, project.id);
      assert.equal(firstRead[0]?.type, 'job.updated');
      assert.equal(firstRead[0]?.createdAt, t.database.clock.now());
      const lastSeen = firstRead[2]?.id ?? 0;
      const resumed = await t.store.events.listAfter(lastSeen, 100);
      assert.deepEqual(resumed.map((e) => e.payload), [{ i: 3 }, { i: 4 }]);
      assert.equal(await t.store.events.latestId(), resumed[1]?.id);
      assert.deepEqual(await t.store.events.listAfter(resumed[1]?.id ?? 0, 100), []);
    });

    it('gives concurrent appends distinct increasing ids that a reader sees without gaps', async () => {
      const start = await t.store.events.latestId();
      const other = await t.database.open();
      const appended = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          i % 3 === 0
            ? other.events.append({ type: 'agent.updated', payload: { i } })
            : t.store.transaction(async (tx) => tx.events.append({ type: 'build.updated', payload: { i } })),
        ),
      );
      const ids = appended.map((e) => e.id);
      assert.equal(new Set(ids).size, 20);
      const read = await t.store.events.listAfter(start, 100);
      assert.deepEqual(read.map((e) => e.id), [...ids].sort((a, b) => a - b));
    });

    it('keeps the events of a transaction that fails out of the stream', async () => {
      const start = await t.store.events.latestId();
      await assert.rejects(
        t.store.transaction(async (tx) => {
          await tx.events.append({ type: 'build.updated', payload: { lost: true } });
          throw new Error('rolled back');
        }),
        /rolled back/,
      );
      const kept = await t.store.transaction((tx) => tx.events.append({ type: 'build.updated', payload: { kept: true } }));
      assert.deepEqual((await t.store.events.listAfter(start, 10)).map((e) => e.payload), [{ kept: true }]);
      assert.ok(kept.id > start);
    });

    it('prunes old events but keeps the newest, so latestId never goes back', async () => {
      const database = await target.freshDatabase();
      try {
        const store = await database.open();
        assert.equal(await store.events.latestId(), 0);
        await store.events.append({ type: 'a', payload: 1 });
        await store.events.append({ type: 'b', payload: 2 });
        database.clock.advance(1000);
        const newest = await store.events.append({ type: 'c', payload: 3 });
        assert.equal(await store.events.pruneBefore(database.clock.now()), 2);
        assert.deepEqual((await store.events.listAfter(0, 10)).map((e) => e.type), ['c']);
        assert.equal(await store.events.pruneBefore(database.clock.now() + 1), 0);
        assert.equal(await store.events.latestId(), newest.id);
        const next = await store.events.append({ type: 'd', payload: 4 });
        assert.ok(next.id > newest.id, 'ids are never reused');
      } finally {
        await database.drop();
      }
    });
  });

  describe('webhook deliveries', () => {
    const t = useDatabase(target);

    it('records a delivery once and turns away its replay', async () => {
      const project = await aProject(t.store);
      const other = await aProject(t.store);
      const delivery = { projectId: project.id, provider: 'github', deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958' };
      assert.equal(await t.store.webhookDeliveries.recordOnce(delivery), true);
      assert.equal(await t.store.webhookDeliveries.recordOnce(delivery), false);
      assert.equal(await t.store.webhookDeliveries.recordOnce({ ...delivery, provider: 'gitea' }), true);
      assert.equal(await t.store.webhookDeliveries.recordOnce({ ...delivery, projectId: other.id }), true);
    });

    it('accepts exactly one of two concurrent copies of a delivery', async () => {
      const project = await aProject(t.store);
      const second = await t.database.open();
      const delivery = { projectId: project.id, provider: 'github', deliveryId: unique('d') };
      const results = await Promise.all([t.store.webhookDeliveries.recordOnce(delivery), second.webhookDeliveries.recordOnce(delivery)]);
      assert.deepEqual(results.filter(Boolean).length, 1);
    });

    it('forgets old deliveries, and refuses one for a missing project', async () => {
      const project = await aProject(t.store);
      const delivery = { projectId: project.id, provider: 'github', deliveryId: unique('d') };
      await t.store.webhookDeliveries.recordOnce(delivery);
      assert.ok((await t.store.webhookDeliveries.pruneBefore(t.database.clock.now() + 1)) >= 1);
      assert.equal(await t.store.webhookDeliveries.recordOnce(delivery), true);
      await rejectsWith(t.store.webhookDeliveries.recordOnce({ ...delivery, projectId: 987654 }), 'NOT_FOUND');
    });
  });

  describe('capacity samples', () => {
    const t = useDatabase(target);

    it('keeps samples with fractional cpus in time order, reads those after a time and prunes the older ones', async () => {
      const base = 1_800_000_000_000;
      const sample = (at: number, busy: number) => ({ at, busy, idle: 1, provisioning: 2, cpusInUse: 0.3, memoryMiBInUse: 300 });
      await t.store.capacitySamples.record(sample(base + 30_000, 3));
      await t.store.capacitySamples.record(sample(base, 1));
      await t.store.capacitySamples.record(sample(base + 15_000, 2));
      assert.deepEqual(await t.store.capacitySamples.since(base), [sample(base + 15_000, 2), sample(base + 30_000, 3)]);
      assert.equal(await t.store.capacitySamples.prune(base + 15_000), 1);
      assert.deepEqual((await t.store.capacitySamples.since(0)).map((s) => s.busy), [2, 3]);
    });
  });

  describe('artifacts', () => {
    const t = useDatabase(target);

    it('records artifacts and lists them by job and by build', async () => {
      const { build, jobs } = await aBuild(t.store);
      const jobId = jobs[0]?.id ?? 0;
      const first = await t.store.artifacts.create({ id: unique('a1'), jobId, buildId: build.id, attempt: 1, name: 'dist', sizeBytes: 5_000_000_000, fileCount: 3, storagePath: `${build.id}/${jobId}/dist.tar` });
      t.database.clock.advance(1);
      const second = await t.store.artifacts.create({ id: unique('a2'), jobId, buildId: build.id, attempt: 1, name: 'coverage', sizeBytes: 10, fileCount: 1, storagePath: 'x', expiresAt: 5 });
      assert.equal(first.sizeBytes, 5_000_000_000, 'sizes beyond 32 bits come back as numbers');
      assert.equal(first.expiresAt, null);
      assert.deepEqual(await t.store.artifacts.get(first.id), first);
      assert.deepEqual(await t.store.artifacts.listByJob(jobId), [first, second]);
      assert.deepEqual(await t.store.artifacts.listByBuild(build.id), [first, second]);
      assert.equal(await t.store.artifacts.delete(second.id), true);
      assert.equal(await t.store.artifacts.delete(second.id), false);
      assert.deepEqual(await t.store.artifacts.listByJob(jobId), [first]);
      assert.equal(await t.store.artifacts.get('missing'), null);
    });

    it('lists expired artifacts, soonest expired first, up to a limit', async () => {
      const { build, jobs } = await aBuild(t.store);
      const base = { jobId: jobs[0]?.id ?? 0, buildId: build.id, attempt: 1, sizeBytes: 1, fileCount: 1, storagePath: 'p' };
      const now = t.database.clock.now();
      const later = await t.store.artifacts.create({ ...base, id: unique('x'), name: 'later', expiresAt: now - 10 });
      const earlier = await t.store.artifacts.create({ ...base, id: unique('x'), name: 'earlier', expiresAt: now - 20 });
      await t.store.artifacts.create({ ...base, id: unique('x'), name: 'future', expiresAt: now + 10 });
      await t.store.artifacts.create({ ...base, id: unique('x'), name: 'kept', expiresAt: null });
      assert.deepEqual((await t.store.artifacts.expired(now, 10)).map((a) => a.id), [earlier.id, later.id]);
      assert.deepEqual((await t.store.artifacts.expired(now, 1)).map((a) => a.id), [earlier.id]);
    });

    it('tells which of a batch of storage paths an artifact row points at', async () => {
      const { build, jobs } = await aBuild(t.store);
      const base = { jobId: jobs[0]?.id ?? 0, buildId: build.id, attempt: 1, sizeBytes: 1, fileCount: 1 };
      await t.store.artifacts.create({ ...base, id: unique('r'), name: 'one', storagePath: 'path-1' });
      await t.store.artifacts.create({ ...base, id: unique('r'), name: 'two', storagePath: 'path-1' });
      assert.deepEqual([...(await t.store.artifacts.referencedPaths(['path-1', 'path-2']))], ['path-1']);
      assert.deepEqual(await t.store.artifacts.referencedPaths([]), new Set());
    });

    it('refuses a reused artifact id with CONFLICT and a missing job with NOT_FOUND', async () => {
      const { build, jobs } = await aBuild(t.store);
      const input = { id: unique('dup'), jobId: jobs[0]?.id ?? 0, buildId: build.id, attempt: 1, name: 'n', sizeBytes: 1, fileCount: 1, storagePath: 'p' };
      await t.store.artifacts.create(input);
      await rejectsWith(t.store.artifacts.create(input), 'CONFLICT', /new random id/);
      await rejectsWith(t.store.artifacts.create({ ...input, id: unique('x'), jobId: 987654 }), 'NOT_FOUND');
    });

    it('refuses an artifact whose job belongs to another build with NOT_FOUND', async () => {
      const { jobs } = await aBuild(t.store);
      const other = await aBuild(t.store);
      const jobId = jobs[0]?.id ?? 0;
      const input = { id: unique('stray'), jobId, buildId: other.build.id, attempt: 1, name: 'n', sizeBytes: 1, fileCount: 1, storagePath: 'p' };
      await rejectsWith(t.store.artifacts.create(input), 'NOT_FOUND', new RegExp(`job ${jobId} of build ${other.build.id} does not exist`));
      assert.deepEqual(await t.store.artifacts.listByBuild(other.build.id), []);
    });
  });

  describe('caches', () => {
    const t = useDatabase(target);

    it('points a key at a new blob and hands back the blob it replaced', async () => {
      const project = await aProject(t.store);
      assert.deepEqual(await t.store.caches.put({ projectId: project.id, key: 'npm-abc', blobId: 'b1', sizeBytes: 100 }), { previousBlobId: null });
      t.database.clock.advance(1);
      assert.deepEqual(await t.store.caches.put({ projectId: project.id, key: 'npm-abc', blobId: 'b2', sizeBytes: 200 }), { previousBlobId: 'b1' });
      assert.deepEqual(await t.store.caches.put({ projectId: project.id, key: 'npm-abc', blobId: 'b2', sizeBytes: 200 }), { previousBlobId: null });
      assert.deepEqual(await t.store.caches.get(project.id, 'npm-abc'), { projectId: project.id, key: 'npm-abc', blobId: 'b2', sizeBytes: 200, updatedAt: t.database.clock.now() });
      assert.equal(await t.store.caches.get(project.id, 'other'), null);
      await rejectsWith(t.store.caches.put({ projectId: 987654, key: 'k', blobId: 'b', sizeBytes: 1 }), 'NOT_FOUND');
    });

    it('gives each of many concurrent puts of one key a different replaced blob, so none leaks', async () => {
      const project = await aProject(t.store);
      const second = await t.database.open();
      const blobs = Array.from({ length: 8 }, (_, i) => `blob-${i}`);
      const results = await Promise.all(blobs.map((blobId, i) => (i % 2 ? second : t.store).caches.put({ projectId: project.id, key: 'k', blobId, sizeBytes: 1 })));
      const current = (await t.store.caches.get(project.id, 'k'))?.blobId;
      const replaced = results.map((r) => r.previousBlobId).filter((b) => b !== null);
      assert.equal(results.filter((r) => r.previousBlobId === null).length, 1, 'exactly one put found the key empty');
      assert.deepEqual([...replaced, current].sort(), [...blobs].sort(), 'every blob is either current or handed back once');
    });

    it('lists the caches of a project by key, page after page, and deletes one returning its blob', async () => {
      const project = await aProject(t.store);
      for (const key of ['c', 'a', 'b']) await t.store.caches.put({ projectId: project.id, key, blobId: `blob-${key}`, sizeBytes: 1 });
      const first = await t.store.caches.list(project.id, { limit: 2 });
      assert.deepEqual(first.items.map((c) => c.key), ['a', 'b']);
      const second = await t.store.caches.list(project.id, { limit: 2, cursor: first.nextCursor });
      assert.deepEqual(second.items.map((c) => c.key), ['c']);
      assert.equal(second.nextCursor, null);
      assert.equal(await t.store.caches.delete(project.id, 'b'), 'blob-b');
      assert.equal(await t.store.caches.delete(project.id, 'b'), null);
    });

    it('tells which of a batch of blobs a cache entry points at', async () => {
      const project = await aProject(t.store);
      await t.store.caches.put({ projectId: project.id, key: 'one', blobId: 'ref-1', sizeBytes: 1 });
      await t.store.caches.put({ projectId: project.id, key: 'two', blobId: 'ref-1', sizeBytes: 1 });
      await t.store.caches.put({ projectId: project.id, key: 'three', blobId: 'ref-2', sizeBytes: 1 });
      assert.deepEqual([...(await t.store.caches.referencedBlobs(['ref-1', 'ref-2', 'ref-none']))].sort(), ['ref-1', 'ref-2']);
      assert.deepEqual(await t.store.caches.referencedBlobs([]), new Set());
    });
  });

  describe('engine launches', () => {
    const t = useDatabase(target);

    it('records a launch before it happens, then its task id and state, until it stops', async () => {
      const engine = unique('docker');
      const launch = await t.store.engineLaunches.create({ engine, template: 'node20', agentName: unique('agent') });
      assert.equal(launch.state, 'requested');
      assert.equal(launch.engineTaskId, null);
      assert.equal(await t.store.engineLaunches.setTaskId(launch.id, 'container-1'), true);
      assert.equal(await t.store.engineLaunches.setState({ id: launch.id, from: ['requested'], to: 'launched' }), true);
      assert.equal(await t.store.engineLaunches.setState({ id: launch.id, from: ['requested'], to: 'failed' }), false);
      const fetched = await t.store.engineLaunches.getByAgentName(launch.agentName);
      assert.equal(fetched?.engineTaskId, 'container-1');
      assert.equal(fetched?.state, 'launched');
      assert.deepEqual(await t.store.engineLaunches.get(launch.id), fetched);
      const broken = await t.store.engineLaunches.create({ engine, template: 'node20', agentName: unique('agent') });
      assert.equal(await t.store.engineLaunches.setState({ id: broken.id, from: ['requested'], to: 'failed', error: 'image not found' }), true);
      assert.equal((await t.store.engineLaunches.get(broken.id))?.error, 'image not found');
      await t.store.engineLaunches.create({ engine: unique('swarm'), template: 't', agentName: unique('agent') });
      assert.deepEqual((await t.store.engineLaunches.listActive(engine)).map((l) => l.id), [launch.id]);
      await t.store.engineLaunches.setState({ id: launch.id, from: ['launched', 'running'], to: 'stopped' });
      assert.deepEqual(await t.store.engineLaunches.listActive(engine), []);
    });

    it('keeps the image a launch replaced its template image with, and counts the jobs its agent ran', async () => {
      const launch = await t.store.engineLaunches.create({ engine: unique('docker'), template: 'base', agentName: unique('agent'), image: 'python:3' });
      assert.equal(launch.image, 'python:3');
      assert.equal(launch.jobsRun, 0);
      assert.equal(await t.store.engineLaunches.countJob(launch.id), true);
      assert.equal(await t.store.engineLaunches.countJob(launch.id), true);
      assert.equal((await t.store.engineLaunches.get(launch.id))?.jobsRun, 2);
      const plain = await t.store.engineLaunches.create({ engine: 'local', template: 't', agentName: unique('agent') });
      assert.equal(plain.image, null);
    });

    it('lets only one of two concurrent state changes of a launch win', async () => {
      const launch = await t.store.engineLaunches.create({ engine: 'local', template: 't', agentName: unique('agent') });
      const results = await Promise.all([
        t.store.engineLaunches.setState({ id: launch.id, from: ['requested'], to: 'launched' }),
        t.store.engineLaunches.setState({ id: launch.id, from: ['requested'], to: 'failed', error: 'timeout' }),
      ]);
      assert.equal(results.filter(Boolean).length, 1);
    });

    it('refuses a second launch for one agent name with CONFLICT', async () => {
      const agentName = unique('agent');
      await t.store.engineLaunches.create({ engine: 'local', template: 't', agentName });
      await rejectsWith(t.store.engineLaunches.create({ engine: 'local', template: 't', agentName }), 'CONFLICT', /new name/);
    });
  });
}
