import assert from 'node:assert/strict';
import { stat, utimes } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { Registry } from 'prom-client';
import { openBlobStore, type BlobStore } from '../../../src/server/blobs/index.js';
import { openLogStore, type LogStore } from '../../../src/server/logs/index.js';
import { collectUnreferencedBlobs, startRetention, sweepExpiredArtifacts, sweepExpiredLogs } from '../../../src/server/retention/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { tempDir } from '../../support/git-repo.js';
import { aBuild, aJob, testClock, type TestClock } from '../../store/harness.js';

const DAY_MS = 24 * 60 * 60 * 1000;
const HOUR_MS = 60 * 60 * 1000;

describe('retention', () => {
  let store: Store;
  let blobs: BlobStore;
  let logs: LogStore;
  let clock: TestClock;
  let blobDir: string;
  let logDir: string;
  let remove: () => Promise<void>;

  before(async () => {
    const temp = await tempDir('retention');
    remove = temp.remove;
    clock = testClock();
    store = await openStore({ url: `sqlite:${path.join(temp.dir, 'slipway.db')}`, clock: clock.now });
    blobDir = path.join(temp.dir, 'blobs');
    logDir = path.join(temp.dir, 'logs');
    blobs = await openBlobStore({ dir: blobDir });
    logs = await openLogStore({ dir: logDir });
  });
  after(async () => {
    await logs.close();
    await store.close();
    await remove();
  });

  /** A finished build of two jobs, each with a stored log; returns the build and its job ids. */
  async function finishedBuildWithLogs(text: string) {
    const { build, jobs } = await aBuild(store, [aJob('one'), aJob('two')]);
    for (const job of jobs) {
      await logs.append({ jobId: job.id, attempt: 1 }, [{ seq: 1, kind: 'data', stream: 'stdout', data: text, atMs: 0 }]);
      await logs.complete({ jobId: job.id, attempt: 1 });
    }
    await store.builds.setStatus({ id: build.id, from: ['pending'], to: 'success' });
    return { build, jobIds: jobs.map((job) => job.id) };
  }

  async function artifact(name: string, expiresAt: number | null) {
    const { build, jobs } = await aBuild(store);
    const blob = await blobs.put(Readable.from([Buffer.from(name)]));
    const jobId = jobs[0]?.id ?? 0;
    return store.artifacts.create({ id: `${name}-${blob.id}`, jobId, buildId: build.id, attempt: 1, name, sizeBytes: blob.sizeBytes, fileCount: 1, storagePath: blob.id, expiresAt });
  }

  /** Makes a blob look last written `ageMs` before `now` (real time unless given). */
  async function age(id: string, ageMs: number, now = Date.now()): Promise<void> {
    const when = new Date(now - ageMs);
    await utimes(path.join(blobDir, id.slice(0, 2), id), when, when);
  }

  it('deletes the files and rows of expired artifacts and keeps the others', async () => {
    const old = await artifact('old', 1_000);
    const fresh = await artifact('fresh', 5_000);
    const kept = await artifact('kept', null);

    assert.equal((await sweepExpiredArtifacts({ store, blobs }, 2_000)).count, 1);
    assert.equal(await store.artifacts.get(old.id), null);
    assert.equal(await blobs.open(old.storagePath), null, 'the expired archive is gone from storage');
    assert.notEqual(await store.artifacts.get(fresh.id), null);
    assert.notEqual(await store.artifacts.get(kept.id), null);

    assert.equal((await sweepExpiredArtifacts({ store, blobs }, 10_000)).count, 1);
    assert.equal(await store.artifacts.get(fresh.id), null);
    assert.notEqual(await store.artifacts.get(kept.id), null, 'expire_in: never keeps an artifact for good');
    assert.equal((await sweepExpiredArtifacts({ store, blobs }, 10_000)).count, 0);
  });

  it('removes a row whose file is already gone', async () => {
    const orphan = await artifact('orphan', 1_000);
    await blobs.delete(orphan.storagePath);
    assert.equal((await sweepExpiredArtifacts({ store, blobs }, 2_000)).count, 1);
    assert.equal(await store.artifacts.get(orphan.id), null);
  });

  it('deletes the logs of builds finished more than logsDays ago, keeps newer ones, and marks the build', async () => {
    const old = await finishedBuildWithLogs('old output\n');
    clock.advance(10 * DAY_MS);
    const recent = await finishedBuildWithLogs('recent output\n');
    const now = clock.advance(85 * DAY_MS);

    const removed = await sweepExpiredLogs({ store, logs, logsDays: 90 }, now);
    assert.equal(removed.count, 1);
    assert.ok(removed.bytes > 2 * 'old output\n'.length, `the bytes of both logs and indexes (${removed.bytes})`);
    for (const jobId of old.jobIds) {
      await assert.rejects(stat(path.join(logDir, String(jobId))), { code: 'ENOENT' });
    }
    assert.equal((await store.builds.get(old.build.id))?.logsExpiredAt, now);
    for (const jobId of recent.jobIds) {
      assert.equal((await logs.read({ jobId, attempt: 1 })).text, 'recent output\n');
    }
    assert.equal((await store.builds.get(recent.build.id))?.logsExpiredAt, null);
    assert.deepEqual(await sweepExpiredLogs({ store, logs, logsDays: 90 }, now), { count: 0, bytes: 0 }, 'a second sweep finds nothing');
    assert.deepEqual(await sweepExpiredLogs({ store, logs, logsDays: 0 }, now + 1000 * DAY_MS), { count: 0, bytes: 0 }, 'logsDays 0 keeps logs forever');
  });

  it('deletes blobs no artifact or cache points at once their grace has passed, and never a fresh one', async () => {
    const { build, jobs, project } = await aBuild(store);
    const put = (text: string) => blobs.put(Readable.from([Buffer.from(text)]));
    const artifact = await put('artifact');
    const cache = await put('cache');
    const orphan = await put('orphan bytes');
    const uploading = await put('just uploaded, row not yet written');
    await store.artifacts.create({ id: `a-${artifact.id}`, jobId: jobs[0]?.id ?? 0, buildId: build.id, attempt: 1, name: 'dist', sizeBytes: artifact.sizeBytes, fileCount: 1, storagePath: artifact.id, expiresAt: null });
    await store.caches.put({ projectId: project.id, key: 'deps', blobId: cache.id, sizeBytes: cache.sizeBytes });
    for (const blob of [artifact, cache, orphan]) await age(blob.id, 2 * HOUR_MS);

    const removed = await collectUnreferencedBlobs({ store, blobs, graceMs: HOUR_MS }, Date.now());
    assert.deepEqual(removed, { count: 1, bytes: 'orphan bytes'.length });
    assert.equal(await blobs.stat(orphan.id), null);
    for (const kept of [artifact, cache, uploading]) assert.notEqual(await blobs.stat(kept.id), null);
  });

  it('runs every sweep from one timer, walks the blob directory on its first sweep and then hourly, and counts what it removed in metrics', async () => {
    const registry = new Registry();
    const orphan = await blobs.put(Readable.from([Buffer.from('left behind')]));
    await finishedBuildWithLogs('to expire\n');
    const now = clock.advance(2 * DAY_MS);
    // The sweep's clock is the test's: the blob's time must be on it too.
    await age(orphan.id, 2 * HOUR_MS, now);
    const retention = startRetention({ store, blobs, logs, logsDays: 1, blobGraceMs: HOUR_MS, registry, intervalMs: 60 * 60 * 1000, now: Date.now, onError: (error) => assert.fail(String(error)) });
    try {
      const removed = await retention.sweep(now);
      assert.equal(removed.blobs.count, 1);
      // With logsDays 1, the builds of the test before expire too.
      assert.ok(removed.logs.count >= 1);
      const text = await registry.metrics();
      assert.match(text, /slipway_retention_removed_total\{kind="blobs"\} 1\b/);
      assert.match(text, new RegExp(`slipway_retention_removed_total\\{kind="logs"\\} ${removed.logs.count}\\b`));
      assert.match(text, new RegExp(`slipway_retention_removed_bytes_total\\{kind="blobs"\\} ${'left behind'.length}\\b`));

      const later = await blobs.put(Readable.from([Buffer.from('left behind later')]));
      await age(later.id, 2 * HOUR_MS, now);
      assert.equal((await retention.sweep(now + 60_000)).blobs.count, 0, 'the blob directory is walked at most hourly');
      assert.equal((await retention.sweep(now + HOUR_MS)).blobs.count, 1);
    } finally {
      retention.stop();
    }
  });
});
