import assert from 'node:assert/strict';
import { chmod, mkdir, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ArtifactsSpec } from '../../src/pipeline/index.js';
import { collectPaths } from '../../src/executor/collect.js';
import { tempDir, writeFiles } from '../support/git-repo.js';
import { makeJob, makeSandbox } from './helpers.js';

type Sandbox = Awaited<ReturnType<typeof makeSandbox>>;

function artifacts(overrides: Partial<ArtifactsSpec>): ArtifactsSpec {
  return { paths: [], exclude: [], expireInMs: null, when: 'on_success', ...overrides };
}

const build = [
  'mkdir -p dist/sub coverage logs',
  'echo app > dist/app.js && echo map > dist/app.js.map && echo deep > dist/sub/x.txt',
  'printf "#!/bin/sh\\necho run\\n" > dist/run.sh && chmod 755 dist/run.sh',
  'ln -s app.js dist/link.js && ln -s /etc/hostname dist/outside',
  'echo cov > coverage/index.html && echo notes > notes.txt && echo log > logs/a.log',
];

describe('artifacts', () => {
  let sandbox: Sandbox;
  before(async () => {
    sandbox = await makeSandbox();
  });
  after(async () => {
    await sandbox.remove();
  });

  it('collects paths minus exclusions and extracts them into a downstream job', async () => {
    const upstream = await sandbox.run(
      makeJob({ name: 'build', script: build, artifacts: artifacts({ paths: ['dist/', '*.txt'], exclude: ['**/*.map'] }) }),
    );
    assert.equal(upstream.result.status, 'success', upstream.log);
    const collected = upstream.result.artifacts;
    assert.ok(collected !== null, upstream.log);
    // app.js, sub/x.txt, run.sh, link.js, notes.txt (not the map, not the link outside).
    assert.equal(collected.files, 5);
    assert.ok(collected.sizeBytes > 0);
    assert.match(upstream.log, /Collected 5 files into \d+\.tar\.gz \(\d+(\.\d)? (B|KiB)\)/);
    assert.match(upstream.log, /WARNING: skipped 'dist\/outside': it is a symbolic link to the absolute path/);

    const downstream = await sandbox.run(
      makeJob({
        name: 'test',
        script: [
          'cat dist/app.js dist/sub/x.txt notes.txt',
          'test ! -e dist/app.js.map && test ! -e coverage && test ! -e logs',
          'test -L dist/link.js && cat dist/link.js',
          './dist/run.sh',
        ],
      }),
      { artifactsIn: [{ job: 'build', archive: collected.archive }] },
    );
    assert.equal(downstream.result.status, 'success', downstream.log);
    assert.match(downstream.log, /^app\ndeep\nnotes\n/m);
    assert.match(downstream.log, /^run$/m);
    assert.match(downstream.log, /Extracted the artifacts of "build" \(5 files\)/);
  });

  it('collects artifacts only when their when matches the outcome', async () => {
    const onFailure = artifacts({ paths: ['out.txt'], when: 'on_failure' });
    const failed = await sandbox.run(makeJob({ script: ['echo x > out.txt', 'exit 1'], artifacts: onFailure }));
    assert.equal(failed.result.artifacts?.files, 1);
    const succeeded = await sandbox.run(makeJob({ script: ['echo x > out.txt'], artifacts: onFailure }));
    assert.equal(succeeded.result.artifacts, null);
    assert.ok(!succeeded.chunks.some((chunk) => chunk.kind === 'section_start' && chunk.section === 'artifacts_upload'));
    const timedOut = await sandbox.run(
      makeJob({ timeoutMs: 2000, script: ['echo x > out.txt', 'sleep 1000'], artifacts: artifacts({ paths: ['out.txt'], when: 'always' }) }),
    );
    assert.equal(timedOut.result.failure?.kind, 'timeout');
    assert.equal(timedOut.result.artifacts?.files, 1);
  });

  it('warns, without failing, when no file matches', async () => {
    const { result, log } = await sandbox.run(makeJob({ artifacts: artifacts({ paths: ['nothing/', '*.zip'] }) }));
    assert.equal(result.status, 'success');
    assert.equal(result.artifacts, null);
    assert.match(log, /WARNING: no files to upload as artifacts: nothing matches nothing\/, \*\.zip/);
  });

  it('fails with a system failure when an artifact archive is missing', async () => {
    const { result } = await sandbox.run(makeJob(), {
      artifactsIn: [{ job: 'gone', archive: path.join(sandbox.dir, 'missing.tar.gz') }],
    });
    assert.equal(result.failure?.kind, 'system_failure');
    assert.match(result.failure.message, /the artifacts of job "gone" are missing/);
  });
});

describe('path collection', () => {
  it('matches globs, directories and exclusions, and never leaves the root', async () => {
    const { dir, remove } = await tempDir('collect');
    try {
      const root = path.join(dir, 'root');
      await writeFiles(root, {
        'a.js': '',
        'b.ts': '',
        'src/c.js': '',
        'src/deep/d.js': '',
        'src/deep/skip.js': '',
        '.hidden/e.js': '',
        '.git/objects/f.js': '',
      });
      await writeFiles(dir, { 'outside/secret.js': '' });
      await symlink(path.join(dir, 'outside'), path.join(root, 'linked'));
      await mkdir(path.join(root, 'empty'));
      await writeFile(path.join(root, 'src', 'deep', '@at.js'), '');

      const globbed = await collectPaths(root, ['**/*.js', 'empty', '../outside', 'linked/secret.js'], ['src/deep/skip.js']);
      assert.deepEqual(globbed.entries, [
        '.hidden/e.js',
        'a.js',
        'empty',
        'src/c.js',
        'src/deep/@at.js',
        'src/deep/d.js',
      ]);
      assert.equal(globbed.files, 5);
      assert.ok(globbed.warnings.some((warning) => warning.includes("'../outside': it is outside the project directory")));
      assert.ok(globbed.warnings.some((warning) => warning.includes("'linked/secret.js': it goes through a symbolic link")));

      const top = await collectPaths(root, ['*.js', './src/'], ['src/deep']);
      assert.deepEqual(top.entries, ['a.js', 'src', 'src/c.js']);
    } finally {
      await remove();
    }
  });

  it('does not read the directories that exclude: removes', { skip: process.getuid?.() === 0 && 'root reads any directory' }, async () => {
    const { dir, remove } = await tempDir('collect-excluded');
    const locked = path.join(dir, 'locked');
    try {
      await writeFiles(dir, { 'a.js': '', 'locked/b.js': '' });
      await chmod(locked, 0o000);
      await assert.rejects(collectPaths(dir, ['**/*.js'], []), /EACCES/);
      const collected = await collectPaths(dir, ['**/*.js', 'locked/b.js'], ['locked']);
      assert.deepEqual(collected.entries, ['a.js']);
    } finally {
      await chmod(locked, 0o700);
      await remove();
    }
  });
});
