import assert from 'node:assert/strict';
import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { commitFiles, makeRepo, tempDir } from '../support/git-repo.js';
import { fileExists, processAlive, waitFor } from '../support/wait.js';
import { startSlipway } from './cli.js';

type Summary = {
  outcome: string;
  jobs: Array<{ name: string; status: string; attempts: number; failureAllowed: boolean; failure: { kind: string } | null; artifacts: string | null }>;
};

describe('slipway run', () => {
  let root: string;
  let remove: () => Promise<void>;
  let counter = 0;

  before(async () => {
    ({ dir: root, remove } = await tempDir('run'));
  });
  after(async () => {
    await remove();
  });

  /** A fresh repository with a pipeline, its own SLIPWAY_HOME and a log file outside the workspace. */
  async function project(pipeline: string, files: Record<string, string> = {}) {
    counter += 1;
    const dir = path.join(root, `p${counter}`);
    const home = path.join(root, `home${counter}`);
    const log = path.join(root, `log${counter}.txt`);
    await makeRepo(dir, { '.slipway.yml': pipeline, ...files });
    const run = (...args: string[]) => startSlipway(['run', '--var', `LOG=${log}`, ...args], { cwd: dir, env: { SLIPWAY_HOME: home } });
    const summary = async (): Promise<Summary> => {
      const runs = await readdir(path.join(home, 'runs'));
      const last = Math.max(...runs.map(Number));
      return JSON.parse(await readFile(path.join(home, 'runs', String(last), 'summary.json'), 'utf8')) as Summary;
    };
    const logLines = async () => (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
    return { dir, home, log, run, summary, logLines };
  }

  function statusOf(summary: Summary, name: string): string {
    const job = summary.jobs.find((j) => j.name === name);
    assert.ok(job, `job ${name} is in the summary: ${summary.jobs.map((j) => j.name).join(', ')}`);
    return job.status;
  }

  it('runs stage-ordered jobs after every job of the earlier stages', async () => {
    const p = await project(`
stages: [one, two]
a:
  stage: one
  script: echo "a" >> "$LOG"
b:
  stage: one
  script: echo "b" >> "$LOG"
c:
  stage: two
  script: echo "c" >> "$LOG"
`);
    const out = await p.run().done;
    assert.equal(out.code, 0, out.stderr + out.stdout);
    const lines = await p.logLines();
    assert.equal(lines.length, 3);
    assert.equal(lines[2], 'c');
    assert.match(out.stdout, /Pipeline succeeded/);
  });

  it('starts a job with needs as soon as its needs succeed, whatever its stage', async () => {
    const p = await project(`
stages: [build, test, deploy]
slow:
  stage: build
  script:
    - until [ -f "$LOG.fast-done" ]; do sleep 0.05; done
    - echo slow >> "$LOG"
quick:
  stage: build
  script: echo quick >> "$LOG"
early:
  stage: deploy
  needs: [quick]
  script:
    - echo early >> "$LOG"
    - touch "$LOG.fast-done"
`);
    // early (stage deploy) must finish while slow (stage build) is still waiting for it.
    const out = await p.run('--parallel', '3').done;
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.deepEqual(await p.logLines(), ['quick', 'early', 'slow']);
  });

  it('runs independent jobs at the same time, up to --parallel', async () => {
    const pipeline = `
left:
  needs: []
  script:
    - touch "$LOG.left"
    - until [ -f "$LOG.right" ]; do sleep 0.05; done
right:
  needs: []
  script:
    - touch "$LOG.right"
    - until [ -f "$LOG.left" ]; do sleep 0.05; done
`;
    const together = await project(pipeline);
    const out = await together.run('--parallel', '2').done;
    assert.equal(out.code, 0, out.stdout + out.stderr);

    // With one slot, the first job waits for the second forever: its timeout proves it.
    const alone = await project(pipeline.replaceAll('needs: []', 'needs: []\n  timeout: 2s'));
    const serial = await alone.run('--parallel', '1').done;
    assert.equal(serial.code, 1);
    assert.equal(statusOf(await alone.summary(), 'left'), 'failed');
  });

  it('expands a matrix into jobs named by their values, each with its variables', async () => {
    const p = await project(`
test:
  parallel:
    matrix:
      - NODE: ["18", "20"]
        DB: [pg]
  script: echo "$NODE-$DB" >> "$LOG"
`);
    const out = await p.run().done;
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.deepEqual((await p.logLines()).sort(), ['18-pg', '20-pg']);
    const names = (await p.summary()).jobs.map((j) => j.name).sort();
    assert.deepEqual(names, ['test: [NODE=18, DB=pg]', 'test: [NODE=20, DB=pg]']);
    assert.match(out.stdout, /test: \[NODE=18, DB=pg\]/);
  });

  it('hands artifacts to the jobs that need them', async () => {
    const p = await project(`
build:
  stage: build
  script:
    - mkdir -p dist && echo "built at $CI_COMMIT_SHORT_SHA" > dist/app.txt
    - echo "not kept" > scratch.txt
  artifacts:
    paths: [dist/]
use:
  stage: test
  needs: [build]
  script:
    - cat dist/app.txt >> "$LOG"
    - test ! -f scratch.txt
`);
    const out = await p.run().done;
    assert.equal(out.code, 0, out.stdout + out.stderr);
    const lines = await p.logLines();
    assert.match(lines[0] ?? '', /^built at [0-9a-f]{8}$/);
    const build = (await p.summary()).jobs.find((j) => j.name === 'build');
    assert.ok(build?.artifacts !== null && (await fileExists(build?.artifacts ?? '')), 'the artifact archive is kept in the run directory');
  });

  it('restores a cache saved by an earlier run', async () => {
    const p = await project(`
job:
  cache:
    key: deps-$CI_COMMIT_REF_SLUG
    paths: [deps/]
  script:
    - if [ -f deps/stamp ]; then echo "hit $(cat deps/stamp)" >> "$LOG"; else echo miss >> "$LOG"; fi
    - mkdir -p deps && echo "$CI_PIPELINE_ID" > deps/stamp
`);
    assert.equal((await p.run().done).code, 0);
    assert.equal((await p.run().done).code, 0);
    assert.deepEqual(await p.logLines(), ['miss', 'hit 1']);
  });

  it('kills the whole process tree of a job that runs out of time', async () => {
    const p = await project(`
slow:
  timeout: 2s
  script:
    - sleep 300 &
    - echo $! > "$LOG.pid"
    - sleep 300
`);
    const out = await p.run().done;
    assert.equal(out.code, 1);
    const summary = await p.summary();
    assert.equal(summary.jobs[0]?.failure?.kind, 'timeout');
    const pid = Number(await readFile(`${p.log}.pid`, 'utf8'));
    assert.ok(pid > 0);
    assert.equal(processAlive(pid), false, 'the background sleep was killed with the job');
    assert.match(out.stdout, /timeout/);
  });

  it('retries a flaky script and reports the retry', async () => {
    const p = await project(`
flaky:
  retry: 2
  script:
    - echo attempt >> "$LOG"
    - test "$(wc -l < "$LOG")" -ge 2
`);
    const out = await p.run().done;
    assert.equal(out.code, 0, out.stdout + out.stderr);
    const job = (await p.summary()).jobs[0];
    assert.equal(job?.status, 'success');
    assert.equal(job?.attempts, 2);
    assert.match(out.stdout, /retrying \(attempt 2 of 3\)/);
  });

  it('skips on_success jobs after a failure and runs on_failure and always jobs', async () => {
    const p = await project(`
stages: [build, test, cleanup]
broken:
  stage: build
  script: exit 3
  after_script:
    - echo "after $CI_JOB_STATUS" >> "$LOG"
tests:
  stage: test
  script: echo tests >> "$LOG"
report:
  stage: cleanup
  when: on_failure
  script: echo report >> "$LOG"
tidy:
  stage: cleanup
  when: always
  script: echo tidy >> "$LOG"
`);
    const out = await p.run().done;
    assert.equal(out.code, 1);
    const summary = await p.summary();
    assert.equal(summary.outcome, 'failed');
    assert.equal(statusOf(summary, 'broken'), 'failed');
    assert.equal(statusOf(summary, 'tests'), 'skipped');
    assert.equal(statusOf(summary, 'report'), 'success');
    assert.equal(statusOf(summary, 'tidy'), 'success');
    assert.deepEqual((await p.logLines()).sort(), ['after failed', 'report', 'tidy']);
    assert.match(out.stdout, /^broken\s+\d\d:\d\d │ .*failed with exit code 3$/m);
  });

  it('lets a pipeline succeed past a job whose failure is allowed', async () => {
    const p = await project(`
stages: [a, b]
optional:
  stage: a
  allow_failure: true
  script: exit 1
picky:
  stage: a
  allow_failure:
    exit_codes: [42]
  script: exit 42
next:
  stage: b
  script: echo next >> "$LOG"
`);
    const out = await p.run().done;
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.deepEqual(await p.logLines(), ['next']);
    assert.match(out.stdout, /failed \(allowed\)/);
  });

  it('fails a job whose exit code is not among its allowed ones', async () => {
    const p = await project(`
picky:
  allow_failure:
    exit_codes: [42]
  script: exit 1
`);
    const out = await p.run().done;
    assert.equal(out.code, 1);
    assert.equal((await p.summary()).jobs[0]?.failureAllowed, false);
  });

  it('stops running jobs and starts no new one on Ctrl-C', async () => {
    const p = await project(`
stages: [one, two]
long:
  stage: one
  script:
    - sleep 300 &
    - echo $! > "$LOG.pid"
    - sleep 300
later:
  stage: two
  script: echo later >> "$LOG"
`);
    const child = p.run();
    const pidFile = `${p.log}.pid`;
    await waitFor('the job to start its sleep', () => fileExists(pidFile));
    const pid = Number(await waitFor('the pid', async () => (await readFile(pidFile, 'utf8')).trim() || undefined));
    child.process.kill('SIGINT');
    const out = await child.done;
    assert.equal(out.code, 130, out.stdout + out.stderr);
    assert.equal(processAlive(pid), false, 'the job process group was killed');
    assert.deepEqual(await p.logLines(), []);
    const summary = await p.summary();
    assert.equal(summary.outcome, 'canceled');
    assert.equal(statusOf(summary, 'later'), 'canceled');
  });

  it('runs only the chosen job and what it needs with --job', async () => {
    const p = await project(`
a:
  stage: build
  script: echo a >> "$LOG"
b:
  stage: test
  needs: [a]
  script: echo b >> "$LOG"
c:
  stage: test
  needs: []
  script: echo c >> "$LOG"
`);
    const out = await p.run('--job', 'b').done;
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.deepEqual(await p.logLines(), ['a', 'b']);
  });

  it('includes uncommitted changes only with --dirty', async () => {
    const p = await project(`
show:
  script: cat message.txt >> "$LOG"
`, { 'message.txt': 'committed\n' });
    await commitFiles(p.dir, {}, 'nothing');
    const { writeFile } = await import('node:fs/promises');
    await writeFile(path.join(p.dir, 'message.txt'), 'edited\n');
    assert.equal((await p.run().done).code, 0);
    assert.equal((await p.run('--dirty').done).code, 0);
    assert.deepEqual(await p.logLines(), ['committed', 'edited']);
  });

  it('passes --var values to jobs over the file’s own variables', async () => {
    const p = await project(`
variables:
  GREETING: hello
job:
  script: echo "$GREETING $CI_COMMIT_BRANCH $CI_JOB_NAME $CI_PIPELINE_SOURCE" >> "$LOG"
`);
    const out = await p.run('--var', 'GREETING=howdy').done;
    assert.equal(out.code, 0, out.stdout + out.stderr);
    assert.deepEqual(await p.logLines(), ['howdy main job local']);
  });

  it('prefixes every line with its job name and elapsed time, without colours when not a TTY', async () => {
    const p = await project(`
hello:
  script: echo "hello from the job"
`);
    const out = await p.run().done;
    assert.equal(out.code, 0);
    assert.match(out.stdout, /^hello\s+00:0\d │ hello from the job$/m);
    assert.ok(!out.stdout.includes('\u001b['), 'no escape sequences without a TTY');
    assert.match(out.stdout, /JOB\s+STATUS\s+DURATION\s+RETRIES/);
  });

  it('reports an invalid pipeline with file:line:column and runs nothing', async () => {
    const p = await project(`
build:
  scirpt: echo hi
`);
    const out = await p.run().done;
    assert.equal(out.code, 1);
    assert.match(out.stderr, /\.slipway\.yml:3:3: .*scirpt.*script/);
    assert.equal(await fileExists(path.join(p.home, 'runs')), false);
  });

  it('explains a missing pipeline file', async () => {
    const p = await project('job:\n  script: "true"\n');
    const out = await startSlipway(['run', '--file', 'nope.yml'], { cwd: p.dir, env: { SLIPWAY_HOME: p.home } }).done;
    assert.equal(out.code, 1);
    assert.match(out.stderr, /no pipeline file nope\.yml/);
  });
});
