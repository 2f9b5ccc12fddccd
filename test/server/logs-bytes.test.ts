import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { openLogStore } from '../../src/server/logs/index.js';
import { tempDir } from '../support/git-repo.js';

describe('job logs fed by binary frames', () => {
  let root: { dir: string; remove: () => Promise<void> };
  beforeEach(async () => {
    root = await tempDir('logs-bytes');
  });
  afterEach(async () => {
    await root.remove();
  });

  it('stores output given as UTF-8 bytes exactly as the same output given as text', async () => {
    const text = 'héllo wörld\n✓ done';
    const stores = await Promise.all(['text', 'bytes'].map((name) => openLogStore({ dir: path.join(root.dir, name), clock: () => 1_700_000_000_000 })));
    const [asText, asBytes] = stores;
    assert.ok(asText !== undefined && asBytes !== undefined);
    const key = { jobId: 1, attempt: 1 };
    await asText.append(key, [{ seq: 1, kind: 'data', stream: 'stdout', data: text, atMs: 0 }, { seq: 2, kind: 'section_start', section: 'script', atMs: 5 }]);
    await asBytes.append(key, [{ seq: 1, kind: 'data', stream: 'stdout', data: Buffer.from(text), atMs: 0 }, { seq: 2, kind: 'section_start', section: 'script', atMs: 5 }]);
    const [a, b] = await Promise.all([asText.read(key), asBytes.read(key)]);
    assert.equal(b.text, a.text);
    // The output did not end its line: the marker starts a new one, whichever form the output came in.
    assert.ok(b.text.includes('✓ done\n\u001b[0Ksection_start:'), b.text);
    await Promise.all(stores.map((store) => store.close()));
  });

  it('creates an attempt\'s files on prepare, then stores and acknowledges its first chunk; prepare is idempotent', async () => {
    const store = await openLogStore({ dir: root.dir });
    const key = { jobId: 7, attempt: 2 };
    await store.prepare(key);
    await store.prepare(key);
    assert.deepEqual((await readdir(path.join(root.dir, '7'))).sort(), ['2.idx', '2.log']);
    assert.equal(await store.lastSeq(key), 0);
    assert.deepEqual(await store.append(key, [{ seq: 1, kind: 'data', stream: 'stdout', data: Buffer.from('first\n'), atMs: 3 }]), { ackedSeq: 1 });
    await store.close();
    const reopened = await openLogStore({ dir: root.dir });
    assert.equal((await reopened.read(key)).text, 'first\n');
    await reopened.prepare(key);
    assert.equal((await reopened.read(key)).text, 'first\n', 'prepare leaves an existing log alone');
    await reopened.close();
  });
});
