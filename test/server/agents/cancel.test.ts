import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, SUBPROTOCOL, encodeEventsFrame, type Assignment, type AttemptEvent, type ServerMessage } from '../../../src/protocol/index.js';
import { waitFor } from '../../support/wait.js';
import { pipeline, startTestServer, type TestServer } from './harness.js';

/** An agent driven by hand over the protocol, so the test decides when it is connected. */
async function handAgent(t: TestServer, running: Array<{ attemptId: number; lastSeq: number }>) {
  const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/api/v1/agents/connect`, SUBPROTOCOL, { headers: { authorization: `Bearer ${t.agentToken}` } });
  const received: ServerMessage[] = [];
  ws.on('message', (data, binary) => {
    if (!binary) received.push(JSON.parse(String(data)) as ServerMessage);
  });
  const closed = new Promise<void>((resolve) => ws.once('close', () => resolve()));
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  ws.send(JSON.stringify({ type: 'hello', protocol: PROTOCOL_VERSION, name: 'by-hand-cancel', version: 'test', labels: ['by-hand-cancel'], capacity: { cpus: 1, memoryMiB: 512, jobs: 1 }, engine: null, running }));
  await waitFor('welcome', () => received.some((m) => m.type === 'welcome'));
  return {
    received,
    send: (message: unknown) => ws.send(JSON.stringify(message)),
    events: (attemptId: number, token: string, events: AttemptEvent[]) => ws.send(encodeEventsFrame(attemptId, token, events)),
    close: async () => {
      ws.close();
      await closed;
    },
  };
}

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
    const first = await handAgent(t, []);
    first.send({ type: 'ready', slots: 1 });
    const { attemptId, token } = await waitFor('an assignment', () => first.received.find((m): m is Assignment => m.type === 'assign'));
    first.events(attemptId, token, [{ seq: 1, kind: 'started', atMs: 0 }]);
    await t.waitForBuild(started.id, (b) => b.jobs[0]?.status === 'running', 'the job to run');
    await first.close();
    await waitFor('the server to see the agent gone', () => t.agents.connected().length === 0);

    const canceled = await fetch(`${t.url}/api/v1/builds/${started.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${t.adminToken}` } });
    assert.equal(canceled.status, 200, await canceled.text());
    assert.equal((await t.build(started.id)).jobs[0]?.status, 'running', 'the job runs until its agent says it stopped');

    const again = await handAgent(t, [{ attemptId, lastSeq: 1 }]);
    const cancel = await waitFor('the cancel', () => again.received.find((m) => m.type === 'cancel' && m.attemptId === attemptId));
    assert.equal((cancel as { reason: string }).reason, 'the build was canceled');
    again.events(attemptId, token, [{ seq: 2, kind: 'finished', atMs: 1, result: { status: 'failed', failure: { kind: 'script_failure', exitCode: 143, message: 'killed' }, exitCode: 143, durationMs: 1, artifacts: null } }]);
    const build = await t.waitForBuild(started.id, (b) => b.status === 'canceled', 'the build to end canceled');
    assert.equal(build.jobs[0]?.status, 'canceled');
    await again.close();
  });
});
