import assert from 'node:assert/strict';
import { link, lstat, mkdir, readFile, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, beforeEach, describe, it } from 'node:test';
import { isSlipwayError } from '../../src/errors/index.js';
import { entryProblem, extractArchive, packArchive } from '../../src/archive/index.js';
import { tempDir } from '../support/git-repo.js';
import { rawTarGz, type RawEntry } from './helpers.js';

describe('safe archives', () => {
  let dir: string;
  let remove: () => Promise<void>;
  let root: string;
  let outside: string;
  let count = 0;

  before(async () => {
    ({ dir, remove } = await tempDir('archive'));
  });
  after(async () => {
    await remove();
  });
  beforeEach(async () => {
    count += 1;
    root = path.join(dir, `case${count}`, 'root');
    outside = path.join(dir, `case${count}`, 'outside');
    await mkdir(root, { recursive: true });
    await mkdir(outside, { recursive: true });
  });

  async function archive(entries: RawEntry[]): Promise<string> {
    const file = path.join(dir, `case${count}.tar.gz`);
    await writeFile(file, rawTarGz(entries));
    return file;
  }

  async function assertRejected(entries: RawEntry[], message: RegExp): Promise<void> {
    const file = await archive(entries);
    await assert.rejects(extractArchive(file, root), (error: unknown) => {
      assert.ok(isSlipwayError(error, 'ARCHIVE_INVALID'), String(error));
      assert.match(error.message, message);
      return true;
    });
    assert.deepEqual(await readdir(root), [], 'nothing was extracted');
    assert.deepEqual(await readdir(outside), [], 'nothing was written outside');
  }

  it('rejects an entry that climbs out with ..', async () => {
    await assertRejected(
      [{ path: 'ok.txt', body: 'fine' }, { path: '../outside/evil', body: 'evil' }],
      /entry '\.\.\/outside\/evil' is not allowed: its path contains a '\.\.' segment/,
    );
  });

  it('rejects an entry with an absolute path', async () => {
    await assertRejected([{ path: `${outside}/evil`, body: 'evil' }], /its path is absolute/);
  });

  it('rejects a symbolic link that points outside, and a file written through it', async () => {
    await assertRejected(
      [{ path: 'escape', type: 'SymbolicLink', linkpath: '../outside' }, { path: 'escape/evil', body: 'evil' }],
      /entry 'escape' is not allowed: it is a symbolic link to '\.\.\/outside', outside the extraction directory/,
    );
    await assertRejected([{ path: 'abs', type: 'SymbolicLink', linkpath: outside }], /symbolic link to the absolute path/);
    await assertRejected(
      [{ path: 'a/x', type: 'SymbolicLink', linkpath: '../s/..' }],
      /has '\.\.' after a name/,
    );
  });

  it('rejects a file written through a symbolic link planted by an earlier entry', async () => {
    await assertRejected(
      [
        { path: 'inner/', type: 'Directory' },
        { path: 'planted', type: 'SymbolicLink', linkpath: 'inner' },
        { path: 'planted/file', body: 'through the link' },
      ],
      /entry 'planted\/file' is not allowed: it would be written through the symbolic link 'planted'/,
    );
  });

  it('rejects hard links, devices and FIFOs', async () => {
    await assertRejected(
      [{ path: 'target', body: 'x' }, { path: 'hard', type: 'Link', linkpath: 'target' }],
      /entry 'hard' is not allowed: it is a hard link/,
    );
    await assertRejected([{ path: 'dev', type: 'CharacterDevice' }], /it is a device file/);
    await assertRejected([{ path: 'fifo', type: 'FIFO' }], /it is a FIFO/);
  });

  it('rejects a NUL byte in a path', () => {
    assert.match(entryProblem({ path: 'a\0b', type: 'File' }, new Set()) ?? '', /NUL byte/);
    assert.match(entryProblem({ path: 'l', type: 'SymbolicLink', linkpath: 'a\0' }, new Set()) ?? '', /NUL byte/);
  });

  it('rejects an archive that is not a tar.gz', async () => {
    const file = path.join(dir, 'garbage.tar.gz');
    await writeFile(file, 'this is not an archive');
    await assert.rejects(extractArchive(file, root), /is not a readable tar\.gz archive/);
  });

  it('extracts relative symbolic links that stay inside', async () => {
    const file = await archive([
      { path: 'node_modules/tool/bin.js', body: 'bin' },
      { path: 'node_modules/.bin/tool', type: 'SymbolicLink', linkpath: '../tool/bin.js' },
    ]);
    assert.deepEqual(await extractArchive(file, root), { entries: 2, files: 2 });
    assert.equal(await readlink(path.join(root, 'node_modules/.bin/tool')), '../tool/bin.js');
    assert.equal(await readFile(path.join(root, 'node_modules/.bin/tool'), 'utf8'), 'bin');
  });

  it('never writes through a symbolic link already in the destination', async () => {
    await symlink(outside, path.join(root, 'linkdir'));
    await writeFile(path.join(outside, 'target.txt'), 'original');
    await symlink(path.join(outside, 'target.txt'), path.join(root, 'file.txt'));
    const through = await archive([{ path: 'linkdir/evil', body: 'evil' }]);
    await assert.rejects(extractArchive(through, root), /could not extract/);
    assert.deepEqual(await readdir(outside), ['target.txt']);

    const replace = await archive([{ path: 'file.txt', body: 'replaced' }]);
    await extractArchive(replace, root);
    assert.equal(await readFile(path.join(outside, 'target.txt'), 'utf8'), 'original');
    assert.ok((await lstat(path.join(root, 'file.txt'))).isFile(), 'the link was replaced by a file');
  });

  it('packs modes, links inside and hard-linked files so that they extract again', async () => {
    const source = path.join(dir, `case${count}`, 'source');
    await mkdir(path.join(source, 'bin'), { recursive: true });
    await writeFile(path.join(source, 'bin', 'run'), '#!/bin/sh\n', { mode: 0o755 });
    await writeFile(path.join(source, 'a.txt'), 'same');
    await link(path.join(source, 'a.txt'), path.join(source, 'b.txt'));
    await symlink('bin/run', path.join(source, 'run'));
    await writeFile(path.join(source, '@scoped'), 'at');
    const file = path.join(dir, `case${count}-packed.tar.gz`);
    const { sizeBytes } = await packArchive(source, ['@scoped', 'a.txt', 'b.txt', 'bin', 'bin/run', 'run'], file);
    assert.equal(sizeBytes, (await stat(file)).size);
    assert.deepEqual(await extractArchive(file, root), { entries: 6, files: 5 });
    assert.equal((await stat(path.join(root, 'bin', 'run'))).mode & 0o777, 0o755);
    assert.equal(await readFile(path.join(root, 'b.txt'), 'utf8'), 'same');
    assert.equal(await readFile(path.join(root, '@scoped'), 'utf8'), 'at');
    assert.equal(await readlink(path.join(root, 'run')), 'bin/run');
  });
});
