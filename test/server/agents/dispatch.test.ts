import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { pipeline, startTestServer, type TestServer } from './harness.js';

const finished = (status: string) => ['success', 'failed', 'canceled', 'error'].includes(status);

describe('dispatching jobs to agents', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it('gives a queued job to exactly one of two racing agents', async () => {
    const project = await t.project({ '.slipway.yml': pipeline({ only: 'labels: [race]\nscript:\n  - echo "ran once"' }) });
    const started = await t.trigger(project);
    const agents = [t.agent('racer-1', { labels: ['race'] }), t.agent('racer-2', { labels: ['race'] })];
    const build = await t.waitForBuild(started.id, (b) => finished(b.status), 'the build to finish');
    assert.equal(build.status, 'success');
    const job = build.jobs[0];
    assert.ok(job !== undefined);
    assert.equal(job.attempts, 1);
    const attempts = await t.store.attempts.listByJob(job.id);
    assert.equal(attempts.length, 1);
    const log = await t.api<{ text: string }>('GET', `/api/v1/jobs/${job.id}/log`);
    assert.equal(log.text.split('\n').filter((line) => line === 'ran once').length, 1);
    await Promise.all(agents.map((agent) => agent.stop()));
  });

  it('hands artifacts between jobs that ran on two different agents', async () => {
    const project = await t.project({
      '.slipway.yml': pipeline({
        make: 'labels: [maker]\nscript:\n  - mkdir -p out && echo "made on $SLIPWAY_JOB_NAME" > out/thing.txt\nartifacts:\n  paths: [out/]',
        use: 'labels: [user]\nneeds: [make]\nscript:\n  - cat out/thing.txt',
      }),
    });
    const agents = [t.agent('maker', { labels: ['maker'] }), t.agent('user', { labels: ['user'] })];
    const started = await t.trigger(project);
    const build = await t.waitForBuild(started.id, (b) => finished(b.status), 'the build to finish');
    assert.equal(build.status, 'success', JSON.stringify(build.jobs));
    const make = build.jobs.find((job) => job.name === 'make');
    const use = build.jobs.find((job) => job.name === 'use');
    assert.ok(make !== undefined && use !== undefined);
    const [made] = await t.store.attempts.listByJob(make.id);
    const [used] = await t.store.attempts.listByJob(use.id);
    assert.notEqual(made?.agentId, used?.agentId);
    assert.match((await t.api<{ text: string }>('GET', `/api/v1/jobs/${use.id}/log`)).text, /made on make/);
    const listing = await t.api<{ entries: Array<{ path: string }> }>('GET', `/api/v1/jobs/${make.id}/artifacts`);
    assert.ok(listing.entries.some((entry) => entry.path === 'out/thing.txt'), JSON.stringify(listing));
    const file = await fetch(`${t.url}/api/v1/jobs/${make.id}/artifacts/file?path=out/thing.txt`, { headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(await file.text(), 'made on make\n');
    await Promise.all(agents.map((agent) => agent.stop()));
  });

  it('stops a running job on its agent when its build is canceled', async () => {
    const project = await t.project({ '.slipway.yml': pipeline({ long: 'labels: [cancel]\nscript:\n  - echo started\n  - sleep 30' }) });
    const agent = t.agent('canceled', { labels: ['cancel'] });
    const started = await t.trigger(project);
    const running = await t.waitForBuild(started.id, (b) => b.jobs[0]?.status === 'running', 'the job to run');
    const jobId = running.jobs[0]?.id ?? 0;
    await t.waitForLog(jobId, (text) => text.includes('started'));
    await t.api('POST', `/api/v1/builds/${started.id}/cancel`, {});
    const build = await t.waitForBuild(started.id, (b) => finished(b.status), 'the build to end');
    assert.equal(build.status, 'canceled');
    assert.equal(build.jobs[0]?.status, 'canceled');
    const [attempt] = await t.store.attempts.listByJob(jobId);
    assert.equal(attempt?.status, 'canceled');
    await agent.stop();
  });
});
