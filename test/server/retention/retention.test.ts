import assert from 'node:assert/strict';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { openBlobStore, type BlobStore } from '../../../src/server/blobs/index.js';
import { sweepExpiredArtifacts } from '../../../src/server/retention/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { tempDir } from '../../support/git-repo.js';
import { aBuild } from '../../store/harness.js';

describe('artifact retention', () => {
  let store: Store;
  let blobs: BlobStore;
  let remove: () => Promise<void>;

  before(async () => {
    const temp = await tempDir('retention');
    remove = temp.remove;
    store = await openStore({ url: `sqlite:${path.join(temp.dir, 'slipway.db')}` });
    blobs = await openBlobStore({ dir: path.join(temp.dir, 'blobs') });
  });
  after(async () => {
    await store.close();
    await remove();
  });

  async function artifact(name: string, expiresAt: number | null) {
    const { build, jobs } = await aBuild(store);
    const blob = await blobs.put(Readable.from([Buffer.from(name)]));
    const jobId = jobs[0]?.id ?? 0;
    return store.artifacts.create({ id: `${name}-${blob.id}`, jobId, buildId: build.id, attempt: 1, name, sizeBytes: blob.sizeBytes, fileCount: 1, storagePath: blob.id, expiresAt });
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
});
