import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { access, copyFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { SourceArchive } from '../../src/executor/index.js';
import { rawTarGz } from '../archive/helpers.js';
import { makeJob, makeSandbox } from './helpers.js';

/** A source archive that copies a tar made beforehand, as the agent's download would write it. */
function archiveFrom(file: string): SourceArchive {
  return { from: 'the test', reason: 'no git wanted', download: (dest) => copyFile(file, dest) };
}

describe('a job whose source comes as an archive', () => {
  let sandbox: Awaited<ReturnType<typeof makeSandbox>>;
  before(async () => {
    sandbox = await makeSandbox({ 'README.md': 'hello from the archive\n', 'app/run.sh': 'echo run\n' });
  });
  after(async () => {
    await sandbox.remove();
  });

  const source = (archive: SourceArchive, subdirectory = '') => ({
    repository: sandbox.repo.dir,
    commit: sandbox.repo.commit,
    subdirectory,
    overlayFrom: null,
    archive,
  });

  it('runs the scripts on the tree of the commit, with no .git, and says where it came from', async () => {
    const tar = path.join(sandbox.dir, 'source.tar');
    execFileSync('git', ['archive', '--format=tar', '-o', tar, sandbox.repo.commit], { cwd: sandbox.repo.dir });
    const { result, log } = await sandbox.run(
      makeJob({ script: ['cat README.md', 'test ! -e .git && echo "no .git here"', 'cat app/run.sh'] }),
      { source: source(archiveFrom(tar)) },
    );
    assert.equal(result.status, 'success', log);
    assert.match(log, /^hello from the archive$/m);
    assert.match(log, /^no \.git here$/m);
    assert.match(log, new RegExp(`^Fetched ${sandbox.repo.commit.slice(0, 8)} from the test \\(no git wanted\\)$`, 'm'));
    assert.doesNotMatch(log, /with git/);
  });

  it('runs in the subdirectory of an extracted tree', async () => {
    const tar = path.join(sandbox.dir, 'source-sub.tar');
    execFileSync('git', ['archive', '--format=tar', '-o', tar, sandbox.repo.commit], { cwd: sandbox.repo.dir });
    const { result, log } = await sandbox.run(makeJob({ script: ['sh run.sh'] }), { source: source(archiveFrom(tar), 'app') });
    assert.equal(result.status, 'success', log);
    assert.match(log, /^run$/m);
  });

  it('refuses an archive with a `..` entry before any script runs, writing nothing outside', async () => {
    const tar = path.join(sandbox.dir, 'evil.tar.gz');
    await writeFile(tar, rawTarGz([{ path: 'README.md', body: 'fine' }, { path: '../../escaped', body: 'evil' }]));
    const { result, log } = await sandbox.run(makeJob({ script: ['echo never'] }), { source: source(archiveFrom(tar)) });
    assert.equal(result.status, 'failed');
    assert.equal(result.failure?.kind, 'system_failure');
    assert.match(result.failure.message, /entry '\.\.\/\.\.\/escaped' is not allowed/);
    assert.doesNotMatch(log, /^never$/m);
    await assert.rejects(access(path.join(sandbox.dir, 'work', 'escaped')));
    await assert.rejects(access(path.join(sandbox.dir, 'escaped')));
  });

  it('refuses an archive with an absolute path or a link leading outside', async () => {
    for (const entries of [
      [{ path: '/tmp/slipway-absolute-entry', body: 'evil' }],
      [{ path: 'out', type: 'SymbolicLink' as const, linkpath: '../../..' }],
    ]) {
      const tar = path.join(sandbox.dir, 'evil-2.tar.gz');
      await writeFile(tar, rawTarGz(entries));
      const { result } = await sandbox.run(makeJob({ script: ['echo never'] }), { source: source(archiveFrom(tar)) });
      assert.equal(result.failure?.kind, 'system_failure', JSON.stringify(entries));
    }
    await assert.rejects(access('/tmp/slipway-absolute-entry'));
  });

  it('fails with a system failure naming the source when the download fails', async () => {
    const failing: SourceArchive = {
      from: 'the server',
      reason: 'no git in this image',
      download: () => Promise.reject(new Error('GET http://server/source: HTTP 404 commit 1234abcd is no longer in repo')),
    };
    const { result } = await sandbox.run(makeJob({ script: ['echo never'] }), { source: source(failing) });
    assert.equal(result.failure?.kind, 'system_failure');
    assert.match(result.failure.message, /^could not fetch the source from the server: GET .*no longer in repo$/);
  });
});
