import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdir, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { isSlipwayError } from '../../src/errors/index.js';
import { openBlobStore, type BlobStore } from '../../src/server/blobs/index.js';
import { rawTarGz } from '../archive/helpers.js';
import { tempDir } from '../support/git-repo.js';

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

/** A source that yields the content in pieces, like an upload arriving over HTTP. */
function upload(content: Buffer, pieceBytes = 64 * 1024): Readable {
  return Readable.from(
    (function* () {
      for (let at = 0; at < content.length; at += pieceBytes) yield content.subarray(at, at + pieceBytes);
    })(),
  );
}

describe('artifact and cache blobs', () => {
  let root: { dir: string; remove: () => Promise<void> };
  let cases = 0;
  const newDir = () => path.join(root.dir, `case${(cases += 1)}`);
  const newStore = () => openBlobStore({ dir: newDir() });

  before(async () => {
    root = await tempDir('blobs');
  });
  after(async () => {
    await root.remove();
  });

  it('stores an upload under a random id and reads it back', async () => {
    const dir = newDir();
    const store = await openBlobStore({ dir });
    const content = randomBytes(300 * 1024 + 5);
    const put = await store.put(upload(content));
    assert.match(put.id, /^[0-9a-f]{32}$/);
    assert.equal(put.sizeBytes, content.length);
    assert.equal(put.sha256, createHash('sha256').update(content).digest('hex'));
    assert.deepEqual(await readdir(path.join(dir, put.id.slice(0, 2))), [put.id]);
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), [], 'no temp file is left');
    const stream = await store.open(put.id);
    assert.ok(stream !== null);
    assert.ok((await readAll(stream)).equals(content));
    assert.equal((await store.stat(put.id))?.sizeBytes, content.length);
    const other = await store.put(upload(Buffer.from('other')));
    assert.notEqual(other.id, put.id);
  });

  it('deletes a blob, and deleting it again is fine', async () => {
    const store = await newStore();
    const { id } = await store.put(upload(rawTarGz([{ path: 'short-lived.txt', body: 'soon gone' }])));
    await store.delete(id);
    await store.delete(id);
    assert.equal(await store.open(id), null);
    assert.equal(await store.stat(id), null);
    assert.equal(await store.verifyArchive(id), null);
    assert.equal(await store.listArchive(id), null);
    assert.equal(await store.readArchiveEntry(id, 'short-lived.txt'), null);
  });

  it('refuses ids that are not its own before touching the filesystem', async () => {
    const store = await newStore();
    const bad = ['../../etc/passwd', 'ABCDEF00112233445566778899aabbcc', 'abc', `${'a'.repeat(32)}/x`, `${'a'.repeat(31)}\n`, ''];
    for (const id of bad) {
      const calls = [
        () => store.open(id),
        () => store.stat(id),
        () => store.delete(id),
        () => store.verifyArchive(id),
        () => store.listArchive(id),
        () => store.readArchiveEntry(id, 'a.txt'),
      ];
      for (const call of calls) {
        await assert.rejects(call(), (error: unknown) => isSlipwayError(error, 'USAGE') && /is not a blob id/.test(error.message));
      }
    }
  });

  it('aborts an upload past maxBytes with PAYLOAD_TOO_LARGE and deletes what it had written', async () => {
    const dir = newDir();
    const store = await openBlobStore({ dir });
    await assert.rejects(store.put(upload(randomBytes(200 * 1024), 16 * 1024), { maxBytes: 100 * 1024 }), (error: unknown) => {
      assert.ok(isSlipwayError(error, 'PAYLOAD_TOO_LARGE'), String(error));
      assert.match(error.message, /larger than the server's limit of 102400 bytes/);
      return true;
    });
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
    assert.deepEqual(await readdir(dir), ['tmp'], 'no blob was stored');
    const exact = await store.put(upload(randomBytes(100 * 1024)), { maxBytes: 100 * 1024 });
    assert.equal(exact.sizeBytes, 100 * 1024, 'exactly maxBytes is allowed');
  });

  it('deletes the temp file when the upload fails midway', async () => {
    const dir = newDir();
    const store = await openBlobStore({ dir });
    const failing = new Readable({
      read() {
        this.push(Buffer.alloc(1024));
        this.destroy(new Error('connection reset'));
      },
    });
    await assert.rejects(store.put(failing), /connection reset/);
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), []);
  });

  it('lists every blob for garbage collection', async () => {
    const store: BlobStore = await newStore();
    const ids = new Set<string>();
    for (let i = 0; i < 12; i += 1) ids.add((await store.put(upload(Buffer.from(`blob ${i}`)))).id);
    const listed = [];
    for await (const info of store.list()) listed.push(info);
    assert.deepEqual(new Set(listed.map((info) => info.id)), ids);
    assert.ok(listed.every((info) => info.sizeBytes > 0 && info.modifiedAtMs > 0));
  });

  it('removes uploads a crash left behind when it opens', async () => {
    const dir = newDir();
    await openBlobStore({ dir });
    const old = path.join(dir, 'tmp', 'old.part');
    await writeFile(old, 'left by a crash');
    const twoDaysAgo = new Date(Date.now() - 2 * 24 * 3600 * 1000);
    await utimes(old, twoDaysAgo, twoDaysAgo);
    await writeFile(path.join(dir, 'tmp', 'current.part'), 'still uploading');
    await openBlobStore({ dir });
    assert.deepEqual(await readdir(path.join(dir, 'tmp')), ['current.part']);
  });

  it('checks a stored archive, returning problems as values, and serves its files', async () => {
    const store = await newStore();
    const good = await store.put(upload(rawTarGz([{ path: 'dist/', type: 'Directory' }, { path: 'dist/app.js', body: 'console.log(1)\n' }])));
    assert.deepEqual(await store.verifyArchive(good.id), { ok: true, entries: 2, files: 1 });
    assert.deepEqual((await store.listArchive(good.id))?.map((entry) => entry.path), ['dist', 'dist/app.js']);
    const file = await store.readArchiveEntry(good.id, 'dist/app.js');
    assert.ok(file !== null);
    assert.equal((await readAll(file)).toString(), 'console.log(1)\n');
    assert.equal(await store.readArchiveEntry(good.id, 'dist/missing.js'), null);

    const evil = await store.put(upload(rawTarGz([{ path: '../../escape', body: 'x' }])));
    const check = await store.verifyArchive(evil.id);
    assert.deepEqual(check, { ok: false, reason: 'entry', problem: "entry '../../escape' is not allowed: its path contains a '..' segment" });
    await assert.rejects(store.listArchive(evil.id), (error: unknown) => {
      assert.ok(isSlipwayError(error, 'ARCHIVE_INVALID'));
      assert.ok(error.message.startsWith(`blob ${evil.id}:`), `the message names the blob, not a path: ${error.message}`);
      return true;
    });
    const notArchive = await store.put(upload(Buffer.from('plain text')));
    assert.equal((await store.verifyArchive(notArchive.id))?.ok, false);
  });
});
