import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readlink, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { isSlipwayError } from '../../src/errors/index.js';
import { checkArchive, inspectArchive, listArchive, packArchive, readArchiveEntry } from '../../src/archive/index.js';
import { tempDir } from '../support/git-repo.js';
import { waitFor } from '../support/wait.js';
import { rawTarGz } from './helpers.js';

/** How many of this process's file descriptors have file open (Linux: /proc/self/fd). */
async function openDescriptors(file: string): Promise<number> {
  const targets = await Promise.all(
    (await readdir('/proc/self/fd')).map((fd) => readlink(`/proc/self/fd/${fd}`).catch(() => null)),
  );
  return targets.filter((target) => target === file).length;
}

describe('listing and reading archives', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let packed: string;
  const big = randomBytes(3 * 1024 * 1024 + 17);

  before(async () => {
    ({ dir, remove } = await tempDir('archive-read'));
    const source = path.join(dir, 'source');
    await mkdir(path.join(source, 'bin'), { recursive: true });
    await writeFile(path.join(source, 'bin', 'run'), '#!/bin/sh\necho run\n', { mode: 0o755 });
    await writeFile(path.join(source, 'report.txt'), 'all green\n', { mode: 0o644 });
    await writeFile(path.join(source, 'big.bin'), big);
    await symlink('bin/run', path.join(source, 'run'));
    packed = path.join(dir, 'packed.tar.gz');
    await packArchive(source, ['bin', 'bin/run', 'report.txt', 'big.bin', 'run'], packed);
  });
  after(async () => {
    await remove();
  });

  it('lists every entry with its type, size and mode', async () => {
    const entries = await listArchive(packed);
    assert.deepEqual(
      entries.map(({ path: p, type, size, linkTarget }) => ({ path: p, type, size, linkTarget })),
      [
        { path: 'bin', type: 'directory', size: 0, linkTarget: null },
        { path: 'bin/run', type: 'file', size: 19, linkTarget: null },
        { path: 'report.txt', type: 'file', size: 10, linkTarget: null },
        { path: 'big.bin', type: 'file', size: big.length, linkTarget: null },
        { path: 'run', type: 'symlink', size: 0, linkTarget: 'bin/run' },
      ],
    );
    assert.equal(entries.find((e) => e.path === 'bin/run')?.mode, 0o755);
    assert.equal(entries.find((e) => e.path === 'report.txt')?.mode, 0o644);
  });

  it('refuses to list an archive with an unsafe entry', async () => {
    const file = path.join(dir, 'unsafe.tar.gz');
    await writeFile(file, rawTarGz([{ path: 'ok.txt', body: 'ok' }, { path: '../escape', body: 'no' }]));
    await assert.rejects(listArchive(file), (error: unknown) => {
      assert.ok(isSlipwayError(error, 'ARCHIVE_INVALID'));
      assert.match(error.message, /entry '\.\.\/escape' is not allowed/);
      return true;
    });
  });

  it('refuses to list more entries than the limit', async () => {
    const file = path.join(dir, 'many.tar.gz');
    await writeFile(file, rawTarGz(Array.from({ length: 5 }, (_, i) => ({ path: `f${i}`, body: 'x' }))));
    assert.equal((await listArchive(file, { maxEntries: 5 })).length, 5);
    await assert.rejects(listArchive(file, { maxEntries: 4 }), /has 5 entries, more than the 4 a listing may hold/);
  });

  it('reports problems as values without naming the file', async () => {
    assert.deepEqual(await checkArchive(packed), { ok: true, entries: 5, files: 4 });
    const unsafe = path.join(dir, 'hard.tar.gz');
    await writeFile(unsafe, rawTarGz([{ path: 't', body: 'x' }, { path: 'h', type: 'Link', linkpath: 't' }]));
    assert.deepEqual(await checkArchive(unsafe), { ok: false, reason: 'entry', problem: "entry 'h' is not allowed: it is a hard link" });
    const garbage = path.join(dir, 'garbage.tar.gz');
    await writeFile(garbage, 'not an archive at all');
    const check = await checkArchive(garbage);
    assert.equal(check.ok, false);
    assert.ok(!check.ok && check.reason === 'unreadable' && !check.problem.includes(garbage));
    await assert.rejects(inspectArchive(garbage), new RegExp(`${garbage} is not a readable tar\\.gz archive`));
  });

  it('streams the content of one file by its path', async () => {
    const run = await readArchiveEntry(packed, 'bin/run');
    assert.ok(run !== null);
    assert.equal((await buffer(run)).toString(), '#!/bin/sh\necho run\n');
    const same = await readArchiveEntry(packed, './bin//run');
    assert.ok(same !== null);
    assert.equal((await buffer(same)).toString(), '#!/bin/sh\necho run\n');
    const large = await readArchiveEntry(packed, 'big.bin');
    assert.ok(large !== null);
    assert.ok((await buffer(large)).equals(big), 'a large entry arrives whole');
  });

  it('returns null for a path that is missing, a directory or a symbolic link', async () => {
    assert.equal(await readArchiveEntry(packed, 'missing.txt'), null);
    assert.equal(await readArchiveEntry(packed, 'bin'), null);
    assert.equal(await readArchiveEntry(packed, 'run'), null);
    assert.equal(await readArchiveEntry(packed, ''), null);
    assert.equal(await readArchiveEntry(packed, '../report.txt'), null);
  });

  it('closes the archive when the stream is destroyed early', { skip: process.platform !== 'linux' }, async () => {
    const large = await readArchiveEntry(packed, 'big.bin');
    assert.ok(large !== null);
    await new Promise((resolve) => large.once('readable', resolve));
    assert.equal(await openDescriptors(packed), 1, 'the archive is open while its entry is read');
    large.destroy();
    await waitFor('the archive to be closed', async () => (await openDescriptors(packed)) === 0);
  });

  it('rejects a file that is not an archive', async () => {
    const garbage = path.join(dir, 'not-tar.tar.gz');
    await writeFile(garbage, 'definitely not a tar file, but long enough to be read as one block or more'.repeat(20));
    await assert.rejects(readArchiveEntry(garbage, 'a'), (error: unknown) => isSlipwayError(error, 'ARCHIVE_INVALID'));
    await assert.rejects(readArchiveEntry(path.join(dir, 'absent.tar.gz'), 'a'), /not a readable tar\.gz archive/);
  });
});
