import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { Outbox } from '../../src/agent/outbox.js';
import type { AttemptEvent } from '../../src/protocol/index.js';
import { tempDir } from '../support/git-repo.js';

function line(seq: number, data = `line ${seq}\n`): AttemptEvent {
  return { seq, kind: 'data', stream: 'stdout', data, atMs: seq };
}

function seqsOf(batch: { events: Buffer } | null): number[] {
  if (batch === null) return [];
  return (JSON.parse(`[${batch.events.toString()}]`) as AttemptEvent[]).map((event) => event.seq);
}

describe('an attempt outbox', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  beforeEach(async () => {
    temp = await tempDir('outbox');
  });
  afterEach(async () => {
    await temp.remove();
  });

  it('keeps every event in a JSON-lines file and sends them in batches of bounded size', async () => {
    const outbox = new Outbox(path.join(temp.dir, '1.jsonl'));
    for (let seq = 1; seq <= 1000; seq++) outbox.append(line(seq));
    const stored = (await readFile(outbox.file, 'utf8')).trim().split('\n');
    assert.equal(stored.length, 1000);
    const sent: number[] = [];
    for (let batch = outbox.nextBatch(4096); batch !== null; batch = outbox.nextBatch(4096)) {
      assert.ok(batch.events.length <= 4096);
      sent.push(...seqsOf(batch));
    }
    assert.deepEqual(sent, Array.from({ length: 1000 }, (_, index) => index + 1));
    outbox.remove();
  });

  it('sends an event larger than a batch whole', () => {
    const outbox = new Outbox(path.join(temp.dir, '2.jsonl'));
    outbox.append(line(1, 'x'.repeat(10_000)));
    outbox.append(line(2));
    assert.deepEqual(seqsOf(outbox.nextBatch(100)), [1]);
    assert.deepEqual(seqsOf(outbox.nextBatch(100)), [2]);
    outbox.remove();
  });

  it('resends what was not acknowledged after a reconnect, from the server\'s acknowledged seq', () => {
    const outbox = new Outbox(path.join(temp.dir, '3.jsonl'));
    for (let seq = 1; seq <= 30; seq++) outbox.append(line(seq));
    const first = seqsOf(outbox.nextBatch(200));
    const second = seqsOf(outbox.nextBatch(200));
    assert.ok(first.length > 1 && second.length > 1);
    outbox.ack(first.at(-1) ?? 0);
    // The server stored one event of the second batch before the connection broke.
    outbox.rewind(second[0] ?? 0);
    const resent: number[] = [];
    for (let batch = outbox.nextBatch(200); batch !== null; batch = outbox.nextBatch(200)) resent.push(...seqsOf(batch));
    assert.deepEqual(resent, Array.from({ length: 30 - (second[0] ?? 0) }, (_, index) => index + (second[0] ?? 0) + 1));
    outbox.remove();
  });

  it('starts over when the server has less than it acknowledged', () => {
    const outbox = new Outbox(path.join(temp.dir, '4.jsonl'));
    for (let seq = 1; seq <= 5; seq++) outbox.append(line(seq));
    outbox.nextBatch(1 << 20);
    outbox.ack(5);
    outbox.rewind(2);
    assert.deepEqual(seqsOf(outbox.nextBatch(1 << 20)), [3, 4, 5]);
    outbox.remove();
  });

  it('counts the bytes of batches not yet acknowledged, and frees them on ack and on reconnect', () => {
    const outbox = new Outbox(path.join(temp.dir, '6.jsonl'));
    for (let seq = 1; seq <= 30; seq++) outbox.append(line(seq));
    const first = outbox.nextBatch(200);
    const second = outbox.nextBatch(200);
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
    const outbox = new Outbox(path.join(temp.dir, '5.jsonl'));
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
