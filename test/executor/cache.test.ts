import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CacheSpec } from '../../src/pipeline/index.js';
import { directoryCacheStore } from '../../src/executor/index.js';
import { sanitizeCacheKey } from '../../src/executor/cache.js';
import { tempDir } from '../support/git-repo.js';
import { makeJob, makeSandbox } from './helpers.js';

type Sandbox = Awaited<ReturnType<typeof makeSandbox>>;

function cache(overrides: Partial<CacheSpec>): CacheSpec {
  return { key: 'default', files: [], prefix: '', paths: [], policy: 'pull-push', when: 'on_success', ...overrides };
}

/** The keys named by "Saved cache <key>" lines. */
function savedKeys(log: string): string[] {
  return [...log.matchAll(/^Saved cache (\S+)/gm)].map((match) => match[1] ?? '');
}

describe('caches', () => {
  let sandbox: Sandbox;
  before(async () => {
    sandbox = await makeSandbox({ 'lock.txt': 'v1\n' });
  });
  after(async () => {
    await sandbox.remove();
  });

  it('saves a cache in one job and restores it in the next', async () => {
    const spec = cache({ key: 'deps-$CI_COMMIT_REF_NAME', paths: ['vendor/'] });
    const variables = { CI_COMMIT_REF_NAME: 'feature/x' };
    const first = await sandbox.run(
      makeJob({ cache: [spec], script: ['test ! -e vendor', 'mkdir -p vendor/bin && echo lib > vendor/lib.txt', 'ln -s ../lib.txt vendor/bin/tool'] }),
      { variables },
    );
    assert.equal(first.result.status, 'success', first.log);
    assert.match(first.log, /^No cache found for deps-feature%2Fx$/m);
    assert.deepEqual(savedKeys(first.log), ['deps-feature%2Fx']);
    assert.deepEqual(await readdir(path.join(sandbox.dir, 'cache')), ['deps-feature%2Fx.tar.gz']);

    const second = await sandbox.run(
      makeJob({ cache: [{ ...spec, policy: 'pull' }], script: ['test -L vendor/bin/tool', 'cat vendor/lib.txt vendor/bin/tool'] }),
      { variables },
    );
    assert.equal(second.result.status, 'success', second.log);
    assert.match(second.log, /^Restored cache deps-feature%2Fx \(2 files\)$/m);
    assert.match(second.log, /^lib\nlib$/m);
    assert.deepEqual(savedKeys(second.log), [], 'a pull cache is not saved');
    const sections = second.chunks.flatMap((chunk) => (chunk.kind === 'section_start' ? [chunk.section] : []));
    assert.deepEqual(sections, ['prepare', 'cache_restore', 'script']);
  });

  it('keys a files: cache by the content of the files, so a lockfile change misses', async () => {
    const spec = cache({ files: ['lock.txt', 'absent.txt'], prefix: 'npm', paths: ['node_modules/'] });
    const job = makeJob({ cache: [spec], script: ['mkdir -p node_modules && cat lock.txt > node_modules/installed'] });
    const first = await sandbox.run(job);
    const [firstKey] = savedKeys(first.log);
    assert.match(firstKey ?? '', /^npm-[0-9a-f]{64}$/);
    const again = await sandbox.run(job);
    assert.match(again.log, new RegExp(`^Restored cache ${firstKey}`, 'm'));

    const changed = await sandbox.repo.commitFiles({ 'lock.txt': 'v2\n' });
    const third = await sandbox.run(job, {
      source: { repository: sandbox.repo.dir, commit: changed, subdirectory: '', overlayFrom: null },
    });
    const [thirdKey] = savedKeys(third.log);
    assert.notEqual(thirdKey, firstKey);
    assert.match(third.log, new RegExp(`^No cache found for ${thirdKey}$`, 'm'));
  });

  it('saves a cache only when its when matches the outcome', async () => {
    const onSuccess = cache({ key: 'when-test', paths: ['out/'], policy: 'push' });
    const failed = await sandbox.run(makeJob({ cache: [onSuccess], script: ['mkdir out && touch out/f', 'exit 1'] }));
    assert.deepEqual(savedKeys(failed.log), []);
    const always = await sandbox.run(
      makeJob({ cache: [{ ...onSuccess, when: 'always' }], script: ['mkdir out && touch out/f', 'exit 1'] }),
    );
    assert.deepEqual(savedKeys(always.log), ['when-test']);
    const nothing = await sandbox.run(makeJob({ cache: [{ ...onSuccess, key: 'empty' }] }));
    assert.match(nothing.log, /WARNING: nothing to cache for empty: no file matches out\//);
  });

  it('fails with a system failure when the cache store throws', async () => {
    // A store whose directory is a file: every fetch fails with ENOTDIR.
    const notADirectory = path.join(sandbox.dir, 'store-file');
    await writeFile(notADirectory, 'not a directory');
    const { result, log } = await sandbox.run(makeJob({ cache: [cache({ key: 'k', paths: ['x'] })], script: ['echo never'] }), {
      cacheStore: directoryCacheStore(notADirectory),
    });
    assert.equal(result.failure?.kind, 'system_failure');
    assert.match(result.failure.message, /^the cache store could not fetch 'k': ENOTDIR/);
    assert.doesNotMatch(log, /^never$/m);
  });
});

describe('cache keys and the directory store', () => {
  it('makes every key safe as a file name without merging distinct keys', () => {
    assert.equal(sanitizeCacheKey('feature/x'), 'feature%2Fx');
    assert.equal(sanitizeCacheKey('feature%2Fx'), 'feature%252Fx');
    assert.equal(sanitizeCacheKey('a\\b\0c'), 'a%5Cb%00c');
    assert.equal(sanitizeCacheKey('.'), '%2E');
    assert.equal(sanitizeCacheKey('..'), '%2E%2E');
    assert.equal(sanitizeCacheKey('node-20'), 'node-20');
    const long = sanitizeCacheKey('é'.repeat(300));
    assert.ok(Buffer.byteLength(long) <= 200);
    assert.notEqual(long, sanitizeCacheKey(`${'é'.repeat(299)}e`));
  });

  it('returns false for a missing key and refuses an unsafe one', async () => {
    const { dir, remove } = await tempDir('store');
    try {
      const store = directoryCacheStore(path.join(dir, 'store'));
      assert.equal(await store.fetch('missing', path.join(dir, 'out')), false);
      await writeFile(path.join(dir, 'archive'), 'data');
      await store.store('k', path.join(dir, 'archive'));
      assert.equal(await store.fetch('k', path.join(dir, 'out')), true);
      await assert.rejects(store.store('../escape', path.join(dir, 'archive')), /not a valid cache key/);
      assert.deepEqual(await readdir(path.join(dir, 'store')), ['k.tar.gz']);
    } finally {
      await remove();
    }
  });
});
