import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../support/wait.js';
import { pipeline, startTestServer, type TestServer } from './harness.js';

describe('the agent endpoint with real agents', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it('runs a build end to end: the agent takes the job, the job succeeds and its log is readable', async () => {
    const project = await t.project({ '.slipway.yml': pipeline({ hello: 'script:\n  - echo "hello from $CI_JOB_NAME"' }) });
    t.agent('solo');
    const started = await t.trigger(project);
    const build = await t.waitForBuild(started.id, (b) => ['success', 'failed', 'canceled', 'error'].includes(b.status), 'the build to finish');
    assert.equal(build.status, 'success', JSON.stringify(build));
    const job = build.jobs[0];
    assert.ok(job !== undefined);
    const log = await t.api<{ text: string; complete: boolean }>('GET', `/api/v1/jobs/${job.id}/log`);
    assert.match(log.text, /hello from hello/);
    assert.equal(log.complete, true);
    const raw = await fetch(`${t.url}/api/v1/jobs/${job.id}/log/raw`, { headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(await raw.text(), log.text);
    const cli = await promisify(execFile)(process.execPath, [path.resolve('bin/slipway.js'), 'logs', String(job.id), '-f', '--server', t.url, '--token', t.adminToken]);
    assert.equal(cli.stdout, log.text, 'slipway logs prints the same text');
  });

  it('tells the event stream when an agent connects and when it goes', async () => {
    const changes = async (name: string) =>
      (await t.store.events.listAfter(0, 10_000))
        .filter((event) => event.type === 'agent.updated' && (event.payload as { name: string }).name === name)
        .map((event) => (event.payload as { change: string }).change);
    const agent = t.agent('announced');
    await waitFor('agent.updated: connected', async () => (await changes('announced')).includes('connected'));
    await agent.stop();
    await waitFor('agent.updated: disconnected', async () => (await changes('announced')).includes('disconnected'));
    const seen = await changes('announced');
    assert.ok(seen.indexOf('connected') < seen.indexOf('disconnected'), seen.join(', '));
  });
});
