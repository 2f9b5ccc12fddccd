import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Outbox } from '../../src/agent/outbox.js';
import { decodeEventsFrame, encodeFrameHeader, type AttemptEvent } from '../../src/protocol/index.js';
import { tempDir } from '../support/git-repo.js';

function line(seq: number, data = `line ${seq}\n`): AttemptEvent {
  return { seq, kind: 'data', stream: 'stdout', data, atMs: seq };
}

const header = encodeFrameHeader(7, 'attempt-token');

function seqsOf(batch: { frame: Buffer } | null): number[] {
  if (batch === null) return [];
  const parsed = decodeEventsFrame(batch.frame);
  if (!parsed.ok) assert.fail(parsed.error);
  assert.equal(parsed.message.attemptId, 7);
  assert.equal(parsed.message.token, 'attempt-token');
  return parsed.message.events.map((event) => event.seq);
}

describe('an attempt outbox', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  beforeEach(async () => {
    temp = await tempDir('outbox');
  });
  afterEach(async () => {
    await temp.remove();
  });

  it('keeps every event in a file and sends them as frames of bounded size', async () => {
    const outbox = new Outbox(path.join(temp.dir, '1.events'));
    for (let seq = 1; seq <= 1000; seq++) outbox.append(line(seq));
    const stored = await readFile(outbox.file);
    assert.equal(stored.toString('latin1').split('line ').length - 1, 1000);
    const sent: number[] = [];
    for (let batch = outbox.nextBatch(4096, header); batch !== null; batch = outbox.nextBatch(4096, header)) {
      assert.ok(batch.bytes <= 4096);
      assert.equal(batch.frame.length, header.length + batch.bytes);
      sent.push(...seqsOf(batch));
    }
    assert.deepEqual(sent, Array.from({ length: 1000 }, (_, index) => index + 1));
    outbox.remove();
  });

  it('sends an event larger than a batch whole', () => {
    const outbox = new Outbox(path.join(temp.dir, '2.events'));
    outbox.append(line(1, 'x'.repeat(10_000)));
    outbox.append(line(2));
    assert.deepEqual(seqsOf(outbox.nextBatch(100, header)), [1]);
    assert.deepEqual(seqsOf(outbox.nextBatch(100, header)), [2]);
    outbox.remove();
  });

  it('resends what was not acknowledged after a reconnect, from the server\'s acknowledged seq', () => {
    const outbox = new Outbox(path.join(temp.dir, '3.events'));
    for (let seq = 1; seq <= 30; seq++) outbox.append(line(seq));
    const first = seqsOf(outbox.nextBatch(200, header));
    const second = seqsOf(outbox.nextBatch(200, header));
    assert.ok(first.length > 1 && second.length > 1);
    outbox.ack(first.at(-1) ?? 0);
    // The server stored one event of the second batch before the connection broke.
    outbox.rewind(second[0] ?? 0);
    const resent: number[] = [];
    for (let batch = outbox.nextBatch(200, header); batch !== null; batch = outbox.nextBatch(200, header)) resent.push(...seqsOf(batch));
    assert.deepEqual(resent, Array.from({ length: 30 - (second[0] ?? 0) }, (_, index) => index + (second[0] ?? 0) + 1));
    outbox.remove();
  });

  it('starts over when the server has less than it acknowledged', () => {
    const outbox = new Outbox(path.join(temp.dir, '4.events'));
    for (let seq = 1; seq <= 5; seq++) outbox.append(line(seq));
    outbox.nextBatch(1 << 20, header);
    outbox.ack(5);
    outbox.rewind(2);
    assert.deepEqual(seqsOf(outbox.nextBatch(1 << 20, header)), [3, 4, 5]);
    outbox.remove();
  });

  it('counts the bytes of batches not yet acknowledged, and frees them on ack and on reconnect', () => {
    const outbox = new Outbox(path.join(temp.dir, '6.events'));
    for (let seq = 1; seq <= 30; seq++) outbox.append(line(seq));
    const first = outbox.nextBatch(200, header);
    const second = outbox.nextBatch(200, header);
    assert.ok(first !== null && second !== null);
    assert.equal(outbox.inFlightBytes, first.bytes + second.bytes);
    // A batch counts until its last event is acknowledged.
    outbox.ack(first.lastSeq - 1);
    assert.equal(outbox.inFlightBytes, first.bytes + second.bytes);
    outbox.ack(first.lastSeq);
    assert.equal(outbox.inFlightBytes, second.bytes);
    outbox.rewind(first.lastSeq);
    assert.equal(outbox.inFlightBytes, 0);
    outbox.remove();
  });

  it('is delivered once its finished event is acknowledged, and then removable', async () => {
    const outbox = new Outbox(path.join(temp.dir, '5.events'));
    outbox.append({ seq: 1, kind: 'started', atMs: 0 });
    const result = { status: 'success', failure: null, exitCode: 0, durationMs: 1, artifacts: null } as const;
    outbox.append({ seq: 2, kind: 'finished', atMs: 1, result });
    assert.equal(outbox.delivered, false);
    outbox.ack(1);
    assert.equal(outbox.delivered, false);
    outbox.ack(2);
    assert.equal(outbox.delivered, true);
    outbox.remove();
    outbox.remove();
    await assert.rejects(readFile(outbox.file), { code: 'ENOENT' });
  });
});
