import assert from 'node:assert/strict';
import { execFile, execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { realpath, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { after, before, describe, it, test } from 'node:test';
import type { JobResult } from '../../src/executor/index.js';
import { makeRepo, tempDir } from '../support/git-repo.js';
import { makeJob } from '../support/jobs.js';

const IMAGE = 'slipway/build:bookworm';
/** The worktree: dist/test/executor/ is three levels below it. */
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Why Docker cannot run the test here, or null. */
function dockerMissing(): string | null {
  try {
    execFileSync('docker', ['image', 'inspect', IMAGE], { stdio: 'ignore', timeout: 30_000 });
    return null;
  } catch (error) {
    return `docker or the image ${IMAGE} is not available (${(error as Error).message.split('\n')[0]})`;
  }
}

/** Runs the executor from dist, inside the container, on a job; prints its result as JSON on stdout. */
const RUNNER = `
import { copyFile } from 'node:fs/promises';
import { directoryCacheStore, runJob } from '/opt/slipway/dist/src/executor/index.js';
const { job, commit } = JSON.parse(process.env.SLIPWAY_TEST_JOB);
const result = await runJob({
  job,
  variables: {},
  source: {
    repository: '/work/project',
    commit,
    subdirectory: '',
    overlayFrom: null,
    archive: { from: 'the test', reason: 'a mounted tar', download: (dest) => copyFile('/work/source.tar', dest) },
  },
  workRoot: '/tmp/work',
  gitCacheDir: '/tmp/git',
  artifactsIn: [],
  artifactsOut: '/tmp/artifacts.tar.gz',
  cacheStore: directoryCacheStore('/tmp/cache'),
  maskedValues: [],
  onOutput: (chunk) => { if (chunk.kind === 'data') process.stderr.write(chunk.data); },
  signal: new AbortController().signal,
  killGraceMs: 500,
  baseEnv: process.env,
});
process.stdout.write(JSON.stringify(result));
`;

const missing = dockerMissing();
if (missing !== null && process.env.CI) {
  test('Docker runs the out-of-memory test (CI must test it)', () => {
    assert.fail(`${missing}; run scripts/test-env.sh and scripts/images.sh`);
  });
} else {
  describe('a step killed for memory in a real container', { skip: missing ?? false }, () => {
    let temp: Awaited<ReturnType<typeof tempDir>>;
    const name = `slipway-oom-test-${randomBytes(4).toString('hex')}`;
    before(async () => {
      temp = await tempDir('oom-docker');
    });
    after(async () => {
      await promisify(execFile)('docker', ['rm', '-f', `${name}-script`, `${name}-after`]).catch(() => undefined);
      await temp.remove();
    });

    /** Runs the job with the execution core in a 64 MiB container; its result and stderr. */
    async function runIn64MiB(job: ReturnType<typeof makeJob>, suffix: string): Promise<{ result: JobResult; stderr: string }> {
      const repo = path.join(temp.dir, `repo-${suffix}`);
      const commit = await makeRepo(repo, { 'README.md': 'memory hungry\n' });
      execFileSync('git', ['archive', '--format=tar', '-o', path.join(temp.dir, 'source.tar'), commit], { cwd: repo });
      await writeFile(path.join(temp.dir, 'runner.mjs'), RUNNER);
      const args = [
        'run', '--rm', '--name', `${name}-${suffix}`, '--network', 'none', '-m', '64m', '--memory-swap', '64m',
        '-v', '/usr/bin/node:/usr/bin/node:ro',
        '-v', `${path.join(root, 'dist')}:/opt/slipway/dist:ro`,
        '-v', `${path.join(root, 'package.json')}:/opt/slipway/package.json:ro`,
        '-v', `${await realpath(path.join(root, 'node_modules'))}:/opt/slipway/node_modules:ro`,
        '-v', `${temp.dir}:/work:ro`,
        '-e', `SLIPWAY_TEST_JOB=${JSON.stringify({ job, commit })}`,
        IMAGE, '/usr/bin/node', '/work/runner.mjs',
      ];
      const { stdout, stderr } = await promisify(execFile)('docker', args, { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
      return { result: JSON.parse(stdout) as JobResult, stderr };
    }

    // The step offers itself to the OOM killer first (raising oom_score_adj needs no
    // privilege), so the kernel picks it over node, then holds 200 MB in tail.
    const HOG = ['echo 1000 > /proc/$$/oom_score_adj', 'head -c 200000000 /dev/zero | tail > /dev/null'];

    it('fails with the out-of-memory message, exit code 137, in a 64 MiB container', async () => {
      const { result, stderr } = await runIn64MiB(makeJob({ script: HOG }), 'script');
      assert.equal(result.status, 'failed', stderr);
      assert.deepEqual(result.failure, {
        kind: 'script_failure',
        exitCode: 137,
        message: "out of memory: the kernel killed the step (memory limit 64 MiB); raise resources.memory or the template's memoryMiB",
      });
      assert.match(stderr, /ERROR: Job failed: out of memory: the kernel killed the step/);
    });

    it('warns that after_script ran out of memory, and leaves the job succeeded', async () => {
      const { result, stderr } = await runIn64MiB(makeJob({ script: ['echo fine'], afterScript: HOG }), 'after');
      assert.equal(result.status, 'success', stderr);
      assert.match(stderr, /WARNING: after_script failed: out of memory: the kernel killed the step \(memory limit 64 MiB\).*the job status is not changed/);
    });
  });
}
