import assert from 'node:assert/strict';
import { cp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { makeRepo, tempDir } from '../support/git-repo.js';
import { startSlipway } from './cli.js';

const example = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../examples/node-lib');

describe('the example project', () => {
  let dir: string;
  let remove: () => Promise<void>;
  before(async () => {
    ({ dir, remove } = await tempDir('example'));
  });
  after(async () => {
    await remove();
  });

  it('passes its own pipeline with slipway run, twice, the second time from the cache', async () => {
    const repo = path.join(dir, 'node-lib');
    await cp(example, repo, { recursive: true, filter: (src) => !/[/\\](\.slipway|dist|out|node_modules|\.npm)$/.test(src) });
    await makeRepo(repo, {});
    const home = path.join(dir, 'home');
    const first = await startSlipway(['run'], { cwd: repo, env: { SLIPWAY_HOME: home } }).done;
    assert.equal(first.code, 0, first.stdout + first.stderr);
    for (const job of ['build', 'lint', 'test: [SUITE=unit]', 'test: [SUITE=cli]', 'package']) {
      assert.match(first.stdout, new RegExp(`^${job.replace(/[[\]]/g, '\\$&')}\\s+success`, 'm'));
    }
    const summary = JSON.parse(await readFile(path.join(home, 'runs', '1', 'summary.json'), 'utf8')) as { jobs: Array<{ name: string; artifacts: string | null }> };
    assert.ok(summary.jobs.find((j) => j.name === 'package')?.artifacts, 'the package job kept its tarball as an artifact');

    const second = await startSlipway(['run', '--job', 'build'], { cwd: repo, env: { SLIPWAY_HOME: home } }).done;
    assert.equal(second.code, 0, second.stdout + second.stderr);
    assert.match(second.stdout, /Restored cache npm-/);
  });
});
