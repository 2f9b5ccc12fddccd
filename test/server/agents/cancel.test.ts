import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../support/wait.js';
import { pipeline, startTestServer, type TestServer } from './harness.js';

describe('canceling a job whose agent does not hear it at once', () => {
  let t: TestServer;
  before(async () => {
    // Heartbeats long enough that the agent stays "running" while it is away.
    t = await startTestServer({ heartbeatIntervalMs: 5_000, unreachableAfterMs: 60_000, lostAfterMs: 120_000 });
  });
  after(() => t.close());

  it('tells an agent that was away during the cancel as soon as it reconnects, and ends the job canceled', async () => {
    const project = await t.project({ '.slipway.yml': pipeline({ away: 'labels: [by-hand-cancel]\nscript:\n  - "sleep 600"' }) });
    const started = await t.trigger(project);
    const first = await t.handAgent('by-hand-cancel', ['by-hand-cancel']);
    const { attemptId, token } = await first.assignment();
    first.events(attemptId, token, [{ seq: 1, kind: 'started', atMs: 0 }]);
    await t.waitForBuild(started.id, (b) => b.jobs[0]?.status === 'running', 'the job to run');
    await first.close();
    await waitFor('the server to see the agent gone', () => t.agents.connected().length === 0);

    const canceled = await fetch(`${t.url}/api/v1/builds/${started.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(canceled.status, 200, await canceled.text());
    assert.equal((await t.build(started.id)).jobs[0]?.status, 'running', 'the job runs until its agent says it stopped');

    const again = await t.handAgent('by-hand-cancel', ['by-hand-cancel'], [{ attemptId, lastSeq: 1 }]);
    const cancel = await waitFor('the cancel', () => again.received.find((m) => m.type === 'cancel' && m.attemptId === attemptId));
    assert.equal((cancel as { reason: string }).reason, 'the build was canceled');
    again.events(attemptId, token, [{ seq: 2, kind: 'finished', atMs: 1, result: { status: 'failed', failure: { kind: 'script_failure', exitCode: 143, message: 'killed' }, exitCode: 143, durationMs: 1, artifacts: null } }]);
    const build = await t.waitForBuild(started.id, (b) => b.status === 'canceled', 'the build to end canceled');
    assert.equal(build.jobs[0]?.status, 'canceled');
    await again.close();
  });
});
