import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { CloseCode, encodeEventsFrame, type AttemptEvent } from '../../../src/protocol/index.js';
import { waitFor } from '../../support/wait.js';
import { pipeline, startTestServer, type TestServer } from './harness.js';

const finished = (status: string) => ['success', 'failed', 'canceled', 'error'].includes(status);

describe('delivering what agents send', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer();
  });
  after(() => t.close());

  it('stores each of 100,000 numbered lines exactly once when the connection is cut twice mid-job', async () => {
    const gates = path.join(t.home, '..');
    const script = [
      'for i in $(seq 1 40000); do echo "line $i"; done',
      `while [ ! -f ${gates}/gate-1 ]; do sleep 0.02; done`,
      'for i in $(seq 40001 70000); do echo "line $i"; done',
      `while [ ! -f ${gates}/gate-2 ]; do sleep 0.02; done`,
      'for i in $(seq 70001 100000); do echo "line $i"; done',
    ];
    const project = await t.project({ '.slipway.yml': pipeline({ lines: `labels: [lines]\nscript:\n${script.map((line) => `  - '${line}'`).join('\n')}` }) });
    const agent = t.agent('chatty', { labels: ['lines'] });
    const started = await t.trigger(project);
    const running = await t.waitForBuild(started.id, (b) => b.jobs[0]?.status === 'running', 'the job to run');
    const jobId = running.jobs[0]?.id ?? 0;
    const agentId = (await t.store.attempts.listByJob(jobId))[0]?.agentId ?? 0;

    await t.waitForLog(jobId, (text) => text.includes('line 40000\n'));
    await writeFile(path.join(gates, 'gate-1'), '');
    assert.ok(t.agents.disconnect(agentId), 'the first cut');
    await waitFor('the agent to reconnect', () => t.agents.connected().includes(agentId));
    await t.waitForLog(jobId, (text) => text.includes('line 70000\n'));
    await writeFile(path.join(gates, 'gate-2'), '');
    assert.ok(t.agents.disconnect(agentId), 'the second cut');

    const build = await t.waitForBuild(started.id, (b) => finished(b.status), 'the build to finish', 40_000);
    assert.equal(build.status, 'success');
    const text = await t.waitForLog(jobId, () => true);
    const lines = text.split('\n').filter((line) => line.startsWith('line '));
    assert.equal(lines.length, 100_000);
    lines.forEach((line, index) => {
      if (line !== `line ${index + 1}`) assert.fail(`line ${index + 1} is "${line}"`);
    });
    await agent.stop();
  });

  it('rejects a stale attempt token on events and on the file routes', async () => {
    const project = await t.project({ '.slipway.yml': pipeline({ fenced: 'labels: [by-hand]\nscript:\n  - "true"' }) });
    const started = await t.trigger(project);
    const agent = await t.handAgent('by-hand', ['by-hand']);
    const { received } = agent;
    const { attemptId, token } = await agent.assignment();
    const sendEvents = (events: AttemptEvent[]) => agent.events(attemptId, token, events);
    const acks = () => received.filter((m) => m.type === 'ack' && m.attemptId === attemptId).map((m) => (m as { seq: number }).seq);
    const result = { status: 'success', failure: null, exitCode: 0, durationMs: 1, artifacts: null } as const;
    sendEvents([{ seq: 1, kind: 'started', atMs: 0 }, { seq: 2, kind: 'data', stream: 'stdout', data: 'ok\n', atMs: 1 }]);
    await waitFor('ack 2', () => acks().includes(2));
    const upload = (key: string, bearer: string) =>
      fetch(`${t.url}/api/v1/attempts/${attemptId}/caches/${key}`, { method: 'PUT', headers: { authorization: `Bearer ${bearer}`, 'content-type': 'application/gzip' }, body: 'cache bytes' });
    assert.equal((await upload('live', token)).status, 204, 'the live token stores a cache');
    sendEvents([{ seq: 3, kind: 'finished', atMs: 2, result }]);
    await waitFor('ack 3', () => acks().includes(3));
    await t.waitForBuild(started.id, (b) => b.status === 'success', 'the build to succeed');

    sendEvents([{ seq: 4, kind: 'data', stream: 'stdout', data: 'late\n', atMs: 3 }]);
    const reject = await waitFor('a reject', () => received.find((m) => m.type === 'reject' && m.attemptId === attemptId));
    assert.equal((reject as { code: string }).code, 'CONFLICT');
    const stale = await upload('late', token);
    assert.equal(stale.status, 401);
    const download = await fetch(`${t.url}/api/v1/attempts/${attemptId}/caches/live`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(download.status, 401);
    const jobId = (await t.build(started.id)).jobs[0]?.id ?? 0;
    assert.doesNotMatch(await t.waitForLog(jobId, () => true), /late/);
    await agent.close();
  });

  it('turns a version 1 agent away with a close reason that names both versions', async () => {
    const ws = new WebSocket(`${t.url.replace(/^http/, 'ws')}/api/v1/agents/connect`, 'slipway.v1', { headers: { authorization: `Bearer ${t.agentToken}` } });
    const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    ws.send(JSON.stringify({ type: 'hello', protocol: 1, name: 'old-agent', version: 'old', labels: [], capacity: { cpus: 1, memoryMiB: 512, jobs: 1 }, engine: null, running: [] }));
    const { code, reason } = await closed;
    assert.equal(code, CloseCode.UNSUPPORTED_PROTOCOL);
    assert.match(reason, /speaks agent protocol 2 only; the agent speaks 1/);
  });

  it('closes the connection of an agent that sends a malformed binary frame, saying what is wrong', async () => {
    const agent = await t.handAgent('garbled', ['garbled']);
    const frame = encodeEventsFrame(1, 'some-token', [{ seq: 1, kind: 'started', atMs: 0 }]);
    agent.ws.send(frame.subarray(0, frame.length - 3));
    const { code, reason } = await agent.closed;
    assert.equal(code, CloseCode.BAD_MESSAGE);
    assert.match(reason, /binary frame: record 0 is cut short/);
  });
});
