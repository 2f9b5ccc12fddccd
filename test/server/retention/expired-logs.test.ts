import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { sweepExpiredLogs } from '../../../src/server/retention/index.js';
import { pipeline, startTestServer, type TestServer } from '../agents/harness.js';

const DAY_MS = 24 * 60 * 60 * 1000;

describe('reading an expired log', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it('answers 410 GONE saying the log expired once retention deleted it, and a later attempt of the job has its log again', async () => {
    const project = await t.project({ '.slipway.yml': pipeline({ hello: 'labels: [expiry]\nscript:\n  - echo "hello from the job"\n  - exit 3' }) });
    const agent = t.agent('expiry', { labels: ['expiry'] });
    const started = await t.trigger(project);
    const build = await t.waitForBuild(started.id, (b) => b.status === 'failed', 'the build to fail', 60_000);
    const jobId = build.jobs[0]?.id ?? 0;
    assert.match(await t.waitForLog(jobId, (text) => text.includes('hello from the job')), /hello from the job/);

    const removed = await sweepExpiredLogs({ store: t.store, logs: t.files.logs, logsDays: 1 }, Date.now() + 2 * DAY_MS);
    assert.equal(removed.count, 1);
    const headers = { authorization: `Bearer ${t.adminToken}` };
    for (const url of [`/api/v1/jobs/${jobId}/log`, `/api/v1/jobs/${jobId}/log/raw`, `/api/v1/jobs/${jobId}/log?attempt=1`]) {
      const response = await fetch(`${t.url}${url}`, { headers });
      assert.equal(response.status, 410, url);
      const answer = (await response.json()) as { code: string; message: string };
      assert.equal(answer.code, 'GONE');
      assert.match(answer.message, /expired/);
    }
    assert.equal((await t.api<{ logsExpired: boolean }>('GET', `/api/v1/builds/${build.id}`)).logsExpired, true);

    await t.api('POST', `/api/v1/jobs/${jobId}/retry`);
    await t.waitForBuild(build.id, (b) => b.status === 'failed' && b.jobs[0]?.attempts === 2, 'the retried job to fail again', 60_000);
    assert.match(await t.waitForLog(jobId, (text) => text.includes('hello from the job')), /hello from the job/, 'the new attempt has its log');
    assert.equal((await fetch(`${t.url}/api/v1/jobs/${jobId}/log?attempt=1`, { headers })).status, 410, 'the old attempt stays expired');
    await agent.stop();
  });
});
