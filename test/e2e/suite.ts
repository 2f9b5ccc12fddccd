import assert from 'node:assert/strict';
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { runGit } from '../support/git-repo.js';
import { processAlive, waitFor } from '../support/wait.js';
import { freePort, killGroup } from './processes.js';
import { finished, readText, withScene, type BuildView, type E2eTarget, type JobView } from './scene.js';

/** A pipeline file: each job's body is YAML, indented under its name here. */
function pipeline(head: string, jobs: Record<string, string>): string {
  return `${head}${Object.entries(jobs).map(([name, body]) => `${name}:\n${body.replace(/^/gm, '  ')}\n`).join('')}`;
}

function jobNamed(build: BuildView, name: string): JobView {
  const job = build.jobs.find((candidate) => candidate.name === name);
  assert.ok(job !== undefined, `build ${build.id} has no job ${name}: ${JSON.stringify(build.jobs)}`);
  return job;
}

/** How many whole lines of text equal line. */
function linesEqual(text: string, line: string): number {
  return text.split(/\r?\n/).filter((candidate) => candidate === line).length;
}

const isFinished = (build: BuildView): boolean => finished.includes(build.status);

/**
 * The server, agents and CLI as separate real processes over one database, driven over
 * HTTP like a user would. Each test makes its own home, database, server and agents.
 */
export function e2eSuite(title: string, target: E2eTarget, options: { skip?: string } = {}): void {
  describe(title, options, () => {
    it('runs a pipeline triggered by the API in DAG order, build then test then deploy, and keeps the whole log of each job', async () => {
      await withScene(target, {}, async (s) => {
        const order = path.join(s.dir, 'order');
        const { name } = await s.project({
          '.slipway.yml': pipeline('stages: [build, test, deploy]\n', {
            build: `stage: build\nscript:\n  - 'for i in $(seq 1 300); do echo "build line $i"; done'\n  - 'echo build >> ${order}'`,
            test: `stage: test\nneeds: [build]\nscript:\n  - 'echo test >> ${order}'`,
            deploy: `stage: deploy\nscript:\n  - 'echo deploy >> ${order}'`,
          }),
        });
        // Three slots: nothing but the plan keeps the jobs from running at once.
        await s.agent('runner', [], 3);
        const started = await s.trigger(name);
        const build = await s.waitForBuild(started.id, isFinished, 'the build to finish');
        assert.equal(build.status, 'success', JSON.stringify(build.jobs));
        assert.equal(await readText(order), 'build\ntest\ndeploy\n');
        const [first, second, third] = [jobNamed(build, 'build'), jobNamed(build, 'test'), jobNamed(build, 'deploy')];
        assert.ok((second.startedAt ?? 0) >= (first.finishedAt ?? Infinity), 'test starts after build finished');
        assert.ok((third.startedAt ?? 0) >= (second.finishedAt ?? Infinity), 'deploy starts after test finished');

        const log = await s.logRaw(first.id);
        for (let i = 1; i <= 300; i += 1) assert.equal(linesEqual(log, `build line ${i}`), 1, `build line ${i} once in:\n${log}`);
        const page = await s.api<{ complete: boolean }>('GET', `/api/v1/jobs/${first.id}/log`);
        assert.equal(page.complete, true);
      });
    });

    it('passes artifacts from a job on one agent process to a job on another, chosen by labels', async () => {
      await withScene(target, {}, async (s) => {
        const message = `hello-${randomBytes(4).toString('hex')}`;
        const { name } = await s.project({
          '.slipway.yml': pipeline('stages: [build, test]\n', {
            make: `stage: build\nlabels: [alpha]\nscript:\n  - 'mkdir -p out && echo ${message} > out/message.txt'\n  - 'echo "workspace $(pwd)"'\nartifacts:\n  paths: [out/]`,
            use: `stage: test\nlabels: [beta]\nneeds: [make]\nscript:\n  - 'echo "got $(cat out/message.txt)"'\n  - 'echo "workspace $(pwd)"'`,
          }),
        });
        await s.agent('alpha-agent', ['alpha']);
        await s.agent('beta-agent', ['beta']);
        const started = await s.trigger(name);
        const build = await s.waitForBuild(started.id, isFinished, 'the build to finish');
        assert.equal(build.status, 'success', JSON.stringify(build.jobs));
        const makeLog = await s.logRaw(jobNamed(build, 'make').id);
        const useLog = await s.logRaw(jobNamed(build, 'use').id);
        assert.match(makeLog, new RegExp(`workspace ${path.join(s.dir, 'agents', 'alpha-agent')}/`));
        assert.match(useLog, new RegExp(`workspace ${path.join(s.dir, 'agents', 'beta-agent')}/`));
        assert.match(useLog, new RegExp(`got ${message}`));
        const artifacts = await s.api<{ entries: Array<{ path: string }> }>('GET', `/api/v1/jobs/${jobNamed(build, 'make').id}/artifacts`);
        assert.ok(artifacts.entries.some((entry) => /out\/message\.txt$/.test(entry.path)), JSON.stringify(artifacts.entries));
      });
    });

    it('starts exactly one build for each due time of a cron schedule with seconds', async () => {
      await withScene(target, {}, async (s) => {
        const { name } = await s.project({ '.slipway.yml': pipeline('', { tick: "script:\n  - 'true'" }) });
        // croner takes a sixth, leading field of seconds: one schedule fires once at a second
        // a few seconds ahead (once a day after that), another every second as a clock.
        const due = new Date(Date.now() + 4000);
        due.setUTCMilliseconds(0);
        const once = await s.api<{ id: number; nextRunAt: number }>('POST', `/api/v1/projects/${name}/schedules`, {
          cron: `${due.getUTCSeconds()} ${due.getUTCMinutes()} ${due.getUTCHours()} * * *`,
          variables: { WHICH: 'once' },
        });
        assert.equal(once.nextRunAt, due.getTime(), 'the schedule was made before its due time');
        await s.api('POST', `/api/v1/projects/${name}/schedules`, { cron: '* * * * * *', variables: { WHICH: 'clock' } });
        const builds = async (which: string) =>
          (await s.api<{ items: BuildView[] }>('GET', `/api/v1/projects/${name}/builds?limit=500`)).items.filter((b) => b.variables.WHICH === which);

        await waitFor('the due schedule to start a build', async () => (await builds('once')).length > 0, 20_000);
        const clock = (await builds('clock')).length;
        // Two more rounds of the server's schedule timer have passed once the clock fired twice more.
        await waitFor('two more rounds of the schedule timer', async () => (await builds('clock')).length >= clock + 2, 20_000);
        const fired = await builds('once');
        assert.equal(fired.length, 1, JSON.stringify(fired));
        assert.equal(fired[0]?.source, 'schedule');
        const schedules = await s.api<{ items: Array<{ id: number; nextRunAt: number | null }> }>('GET', `/api/v1/projects/${name}/schedules`);
        assert.equal(schedules.items.find((schedule) => schedule.id === once.id)?.nextRunAt, due.getTime() + 86_400_000);
        const clocks = await builds('clock');
        assert.ok(clocks.length >= 2);
      });
    });

    it('builds on a GitHub push webhook with a valid signature, refuses a forged one with 401, and starts nothing on a replayed delivery', async () => {
      await withScene(target, {}, async (s) => {
        const { name, repo } = await s.project({ '.slipway.yml': pipeline('', { hooked: "script:\n  - 'echo hooked'" }) });
        const secret = randomBytes(16).toString('hex');
        await s.api('PUT', `/api/v1/projects/${name}/secrets/WEBHOOK_SECRET`, { value: secret });
        const sha = runGit(repo, ['rev-parse', 'HEAD']).trim();
        const body = JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after: sha, repository: { full_name: `team/${name}` } });
        const sign = (key: string) => `sha256=${createHmac('sha256', key).update(body).digest('hex')}`;
        const deliver = (signature: string, delivery: string) =>
          fetch(`${s.url}/api/v1/webhooks/github/${name}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', 'x-github-event': 'push', 'x-github-delivery': delivery, 'x-hub-signature-256': signature },
            body,
          });
        const buildCount = async () => (await s.api<{ items: BuildView[] }>('GET', `/api/v1/projects/${name}/builds`)).items.length;

        const forged = await deliver(sign('not the secret'), randomUUID());
        assert.equal(forged.status, 401, await forged.text());
        assert.equal(await buildCount(), 0);

        const delivery = randomUUID();
        const valid = await deliver(sign(secret), delivery);
        assert.equal(valid.status, 200);
        const answer = (await valid.json()) as { status: string; buildId: number };
        assert.equal(answer.status, 'triggered');

        const replayed = await deliver(sign(secret), delivery);
        assert.equal(replayed.status, 200);
        assert.equal(((await replayed.json()) as { status: string }).status, 'duplicate');
        assert.equal(await buildCount(), 1);

        await s.agent('runner');
        const build = await s.waitForBuild(answer.buildId, isFinished, 'the webhook build to finish');
        assert.equal(build.status, 'success', JSON.stringify(build.jobs));
        assert.equal(build.source, 'webhook');
        assert.equal(build.commitSha, sha);
      });
    });

    it('stops a running job with its whole process tree when its build is canceled, and the build ends canceled', async () => {
      await withScene(target, {}, async (s) => {
        const pidFile = path.join(s.dir, 'sleep.pid');
        const { name } = await s.project({ '.slipway.yml': pipeline('', { hang: `script:\n  - 'sleep 300 & echo $! > ${pidFile}; echo started; wait'` }) });
        await s.agent('runner');
        const started = await s.trigger(name);
        const job = jobNamed(await s.waitForBuild(started.id, (b) => b.jobs[0]?.status === 'running', 'the job to run'), 'hang');
        await s.waitForLog(job.id, (text) => text.includes('started'), 'the job to start its sleep');
        const pid = Number((await readText(pidFile)).trim());
        assert.ok(pid > 0 && processAlive(pid), `the background sleep runs (pid ${pid})`);
        s.onClose(() => killGroup(pid));

        await s.api('POST', `/api/v1/builds/${started.id}/cancel`);
        const build = await s.waitForBuild(started.id, isFinished, 'the build to end');
        assert.equal(build.status, 'canceled');
        assert.equal(jobNamed(build, 'hang').status, 'canceled');
        await waitFor('the background sleep to be gone', () => !processAlive(pid));
      });
    });

    it('runs a failed job again when it is retried, and the build then succeeds', async () => {
      await withScene(target, {}, async (s) => {
        const counter = path.join(s.dir, 'runs');
        const { name } = await s.project({
          '.slipway.yml': pipeline('', { flaky: `script:\n  - 'n=$(cat ${counter} 2>/dev/null || echo 0); n=$((n+1)); echo $n > ${counter}; echo "run $n"; test $n -ge 2'` }),
        });
        await s.agent('runner');
        const started = await s.trigger(name);
        const failed = await s.waitForBuild(started.id, isFinished, 'the first run to end');
        assert.equal(failed.status, 'failed');
        const job = jobNamed(failed, 'flaky');
        assert.equal(job.failure?.kind, 'script_failure');

        await s.api('POST', `/api/v1/jobs/${job.id}/retry`);
        const build = await s.waitForBuild(started.id, (b) => b.status === 'success' || (isFinished(b) && b.jobs[0]?.attempts === 2), 'the retried job to end');
        assert.equal(build.status, 'success', JSON.stringify(build.jobs));
        assert.equal(jobNamed(build, 'flaky').attempts, 2);
        assert.match(await s.logRaw(job.id, 1), /run 1/);
        assert.match(await s.logRaw(job.id, 2), /run 2/);
      });
    });

    it('finishes a build exactly once, with every log line stored once, when the server is killed with SIGKILL mid-job and restarted', async () => {
      const port = await freePort();
      await withScene(target, { port }, async (s) => {
        const gate = path.join(s.dir, 'gate');
        // Lines stream while the server is killed (after line 10 is stored); at line 40 the job
        // waits for the gate, which opens while the server is down, so it is still running then.
        const script = `for i in $(seq 1 60); do echo "line $i"; if [ $i = 40 ]; then while [ ! -f ${gate} ]; do sleep 0.05; done; fi; sleep 0.02; done`;
        const { name } = await s.project({ '.slipway.yml': pipeline('', { count: `script:\n  - '${script}'` }) });
        await s.agent('runner');
        const started = await s.trigger(name);
        const job = jobNamed(await s.waitForBuild(started.id, (b) => b.jobs[0]?.status === 'running', 'the job to run'), 'count');
        await s.waitForLog(job.id, (text) => linesEqual(text, 'line 10') === 1, 'line 10 to be stored');

        await s.server.kill9();
        await writeFile(gate, '');
        await s.restartServerAfterKill9();

        const build = await s.waitForBuild(started.id, isFinished, 'the build to finish after the restart');
        assert.equal(build.status, 'success', JSON.stringify(build.jobs));
        assert.equal(jobNamed(build, 'count').attempts, 1);
        const builds = await s.api<{ items: BuildView[] }>('GET', `/api/v1/projects/${name}/builds`);
        assert.equal(builds.items.length, 1);
        const log = await s.logRaw(job.id);
        for (let i = 1; i <= 60; i += 1) assert.equal(linesEqual(log, `line ${i}`), 1, `line ${i} once in:\n${log}`);
      });
    });

    it('declares an agent killed with SIGKILL mid-job lost and runs the job again on another agent when retry allows agent_lost', async () => {
      await withScene(target, { agents: { heartbeatIntervalMs: 250, unreachableAfterMs: 1000, lostAfterMs: 2000 } }, async (s) => {
        const gate = path.join(s.dir, 'gate');
        const pidFile = path.join(s.dir, 'job.pid');
        const script = `echo "workspace $(pwd)"; if [ "$SLIPWAY_JOB_ATTEMPT" = 1 ]; then echo $$ > ${pidFile}; echo first; while [ ! -f ${gate} ]; do sleep 0.1; done; fi; echo "attempt $SLIPWAY_JOB_ATTEMPT done"`;
        const { name } = await s.project({ '.slipway.yml': pipeline('', { fragile: `labels: [fragile]\nretry: { max: 1, when: [agent_lost] }\nscript:\n  - '${script}'` }) });
        const doomed = await s.agent('doomed', ['fragile']);
        const started = await s.trigger(name);
        const job = jobNamed(await s.waitForBuild(started.id, (b) => b.jobs[0]?.status === 'running', 'the job to run on the doomed agent'), 'fragile');
        // A line that is just 'first': the echoed command line contains the word too.
        await s.waitForLog(job.id, (text) => linesEqual(text, 'first') === 1, 'the first attempt to print its first line');
        // The killed agent's job shell lives on as an orphan: the gate ends its loop, the kill its group.
        s.onClose(async () => {
          await writeFile(gate, '');
          const pid = Number((await readText(pidFile)).trim());
          if (pid > 0) killGroup(pid);
        });
        await doomed.kill9();
        await s.agent('rescuer', ['fragile']);

        const build = await s.waitForBuild(started.id, isFinished, 'the build to finish on the rescuer', 30_000);
        assert.equal(build.status, 'success', JSON.stringify(build.jobs));
        assert.equal(jobNamed(build, 'fragile').attempts, 2);
        assert.match(await s.logRaw(job.id, 1), new RegExp(`workspace ${path.join(s.dir, 'agents', 'doomed')}/`));
        const second = await s.logRaw(job.id, 2);
        assert.match(second, new RegExp(`workspace ${path.join(s.dir, 'agents', 'rescuer')}/`));
        assert.match(second, /attempt 2 done/);
      });
    });
  });
}
