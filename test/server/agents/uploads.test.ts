import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { hashToken } from '../../../src/server/crypto/index.js';
import { pipeline, startTestServer, type TestServer } from './harness.js';

const LIMIT = 4096;

describe('uploads past the size limit', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({}, `blobs:\n  maxUploadBytes: ${LIMIT}\n`);
  });
  after(() => t.close());

  it('answers 413 PAYLOAD_TOO_LARGE to an artifact upload over blobs.maxUploadBytes, and the job log says why the job failed', async () => {
    const project = await t.project({
      '.slipway.yml': pipeline({ big: 'labels: [big]\nscript:\n  - mkdir -p out && head -c 65536 /dev/urandom > out/noise.bin\nartifacts:\n  paths: [out/]' }),
    });
    const agent = t.agent('big', { labels: ['big'] });
    const started = await t.trigger(project);
    const build = await t.waitForBuild(started.id, (b) => b.status === 'failed', 'the build to fail', 60_000);
    const job = build.jobs[0];
    assert.ok(job !== undefined);
    assert.equal(job.failure?.kind, 'system_failure', JSON.stringify(job.failure));
    const log = await t.waitForLog(job.id, (text) => text.includes('could not upload the artifacts'));
    assert.match(log, /HTTP 413 PAYLOAD_TOO_LARGE: the upload is \d+ bytes/);
    assert.match(log, new RegExp(`larger than the server's limit of ${LIMIT} bytes`));
    assert.deepEqual(await t.store.artifacts.listByJob(job.id), [], 'nothing was kept');
    await agent.stop();
  });

  it('answers 413 PAYLOAD_TOO_LARGE to a cache upload whose size is not announced, as it passes the limit', async () => {
    const project = await t.project({ '.slipway.yml': pipeline({ wait: 'labels: [by-hand]\nscript: [x]' }) });
    const job = (await t.trigger(project)).jobs[0];
    assert.ok(job !== undefined);
    const agent = await t.store.agents.register({ name: `by-hand-${job.id}`, kind: 'registered', labels: ['by-hand'], capacity: { cpus: 1, memoryMiB: 512 } });
    const token = randomBytes(32).toString('base64url');
    const attempt = await t.store.attempts.assign({ jobId: job.id, agentId: agent.id, tokenHash: hashToken(token) });
    assert.ok(attempt);
    const chunks = [Buffer.alloc(3000, 1), Buffer.alloc(3000, 2)];
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = chunks.shift();
        if (next === undefined) controller.close();
        else controller.enqueue(next);
      },
    });
    const response = await fetch(`${t.url}/api/v1/attempts/${attempt.id}/caches/key`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/gzip' },
      body,
      duplex: 'half',
    } as RequestInit);
    assert.equal(response.status, 413);
    const answer = (await response.json()) as { code: string; message: string };
    assert.equal(answer.code, 'PAYLOAD_TOO_LARGE');
    assert.match(answer.message, new RegExp(`limit of ${LIMIT} bytes`));
    assert.equal((await t.store.caches.list((await t.store.jobs.get(job.id))?.projectId ?? 0)).items.length, 0, "nothing was kept");
  });
});
