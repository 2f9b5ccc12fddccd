import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { crc32 } from 'node:zlib';
import fc from 'fast-check';
import { isSlipwayError } from '../../src/errors/index.js';
import { openLogStore, type LogChunk, type LogKey, type LogStore } from '../../src/server/logs/index.js';
import { tempDir } from '../support/git-repo.js';
import { waitFor } from '../support/wait.js';
import { writerText } from './log-writer.js';

const ESC = '\u001b';

function data(seq: number, text: string, stream: 'stdout' | 'stderr' | 'system' = 'stdout'): LogChunk {
  return { seq, kind: 'data', stream, data: text, atMs: seq };
}

async function textOf(store: LogStore, key: LogKey): Promise<string> {
  return (await store.read(key, { offset: 0, limit: 1 << 30 })).text;
}

describe('job log storage', () => {
  let root: { dir: string; remove: () => Promise<void> };
  let cases = 0;
  const newDir = () => path.join(root.dir, `case${(cases += 1)}`);

  before(async () => {
    root = await tempDir('logs');
  });
  after(async () => {
    await root.remove();
  });

  it('stores the text users see, with GitLab section markers inline', async () => {
    const dir = newDir();
    const store = await openLogStore({ dir, clock: () => 1_700_000_000_000 });
    const key = { jobId: 1, attempt: 1 };
    const { ackedSeq } = await store.append(key, [
      { seq: 1, kind: 'section_start', section: 'prepare', atMs: 0 },
      data(2, 'Preparing\n', 'system'),
      data(3, 'warning: on stderr', 'stderr'),
      { seq: 4, kind: 'section_end', section: 'prepare', atMs: 2500, durationMs: 2500 },
      data(5, ''),
      { seq: 6, kind: 'section_start', section: 'script', atMs: 2600 },
    ]);
    assert.equal(ackedSeq, 6);
    const expected =
      `${ESC}[0Ksection_start:1700000000:prepare\r${ESC}[0KPreparing\nwarning: on stderr\n` +
      `${ESC}[0Ksection_end:1700000002:prepare\r${ESC}[0K${ESC}[0Ksection_start:1700000002:script\r${ESC}[0K`;
    assert.equal(await textOf(store, key), expected);
    assert.equal(await readFile(path.join(dir, '1', '1.log'), 'utf8'), expected);
    await store.close();
  });

  it('ignores chunks it already has, as an agent resends them after a reconnect', async () => {
    const store = await openLogStore({ dir: newDir() });
    const key = { jobId: 2, attempt: 1 };
    assert.deepEqual(await store.append(key, [data(1, 'a'), data(2, 'b'), data(3, 'c')]), { ackedSeq: 3 });
    assert.deepEqual(await store.append(key, [data(2, 'b'), data(3, 'c'), data(4, 'd')]), { ackedSeq: 4 });
    assert.deepEqual(await store.append(key, [data(1, 'a')]), { ackedSeq: 4 });
    assert.equal(await textOf(store, key), 'abcd');
    assert.equal(await store.lastSeq(key), 4);
    await store.close();
  });

  it('rejects a gap naming the expected and received seq, and stores nothing after it', async () => {
    const store = await openLogStore({ dir: newDir() });
    const key = { jobId: 3, attempt: 2 };
    await store.append(key, [data(1, 'one '), data(2, 'two ')]);
    await assert.rejects(store.append(key, [data(3, 'three '), data(5, 'five '), data(6, 'six ')]), (error: unknown) => {
      assert.ok(isSlipwayError(error, 'CONFLICT'), String(error));
      assert.match(error.message, /expected chunk 4, got 5/);
      assert.deepEqual(error.details, { expectedSeq: 4, gotSeq: 5, ackedSeq: 3 });
      return true;
    });
    assert.equal(await store.lastSeq(key), 3);
    assert.equal(await textOf(store, key), 'one two three ');
    assert.deepEqual(await store.append(key, [data(4, 'four ')]), { ackedSeq: 4 });
    await store.close();
  });

  it('reads by byte offset without ever splitting a UTF-8 character', async () => {
    const store = await openLogStore({ dir: newDir() });
    const key = { jobId: 4, attempt: 1 };
    const text = 'aé€😀b';
    await store.append(key, [data(1, text)]);
    assert.equal(await store.size(key), 11);
    assert.deepEqual(await store.read(key, { offset: 0, limit: 2 }), { text: 'a', nextOffset: 1, size: 11, complete: false });
    assert.deepEqual(await store.read(key, { offset: 1, limit: 2 }), { text: 'é', nextOffset: 3, size: 11, complete: false });
    assert.equal((await store.read(key, { offset: 3, limit: 1 })).text, '€', 'a limit below one character returns that character');
    assert.equal((await store.read(key, { offset: 2, limit: 100 })).text, '€😀b', 'an offset inside a character moves to the next one');
    assert.deepEqual(await store.read(key, { offset: 11 }), { text: '', nextOffset: 11, size: 11, complete: false });
    for (let limit = 1; limit <= 12; limit += 1) {
      let offset = 0;
      let joined = '';
      while (offset < 11) {
        const piece = await store.read(key, { offset, limit });
        assert.ok(piece.nextOffset > offset);
        joined += piece.text;
        offset = piece.nextOffset;
      }
      assert.equal(joined, text, `pieces of at most ${limit} bytes join to the whole text`);
    }
    await store.close();
  });

  it('reads a whole character from an offset inside the one before it, whatever the limit', async () => {
    const store = await openLogStore({ dir: newDir() });
    const key = { jobId: 4, attempt: 2 };
    const text = 'aé😀b€😀';
    const bytes = Buffer.from(text);
    await store.append(key, [data(1, text)]);
    assert.deepEqual(await store.read(key, { offset: 2, limit: 1 }), { text: '😀', nextOffset: 7, size: bytes.length, complete: false });
    const boundaries = [0];
    for (const character of text) boundaries.push((boundaries.at(-1) ?? 0) + Buffer.byteLength(character));
    for (let offset = 0; offset < bytes.length; offset += 1) {
      const from = boundaries.find((boundary) => boundary >= offset);
      for (let limit = 1; limit <= 12; limit += 1) {
        const piece = await store.read(key, { offset, limit });
        assert.ok(boundaries.includes(piece.nextOffset) && piece.nextOffset > offset, `offset ${offset}, limit ${limit}: ends on a character boundary past the offset`);
        assert.equal(piece.text, bytes.toString('utf8', from, piece.nextOffset), `offset ${offset}, limit ${limit}: the whole characters from the first one at or after the offset`);
      }
    }
    await store.close();
  });

  it('sends followers the text as it is appended and ends them when the log completes', async () => {
    const store = await openLogStore({ dir: newDir() });
    const key = { jobId: 5, attempt: 1 };
    await store.append(key, [data(1, 'before\n')]);
    const pieces: string[] = [];
    const following = (async () => {
      for await (const piece of store.follow(key, 3)) pieces.push(piece);
    })();
    await waitFor('the text already there', () => pieces.join('') === 'ore\n');
    await store.append(key, [data(2, 'live one\n')]);
    await waitFor('the first appended text', () => pieces.join('') === 'ore\nlive one\n');
    await store.append(key, [data(3, 'live two\n'), data(4, 'done\n')]);
    await store.complete(key);
    await following;
    assert.equal(pieces.join(''), 'ore\nlive one\nlive two\ndone\n');

    const replay: string[] = [];
    for await (const piece of store.follow(key, 0)) replay.push(piece);
    assert.equal(replay.join(''), 'before\nlive one\nlive two\ndone\n', 'following a complete log returns all of it and ends');
    await store.close();
  });

  it('stops a follower when its signal aborts', async () => {
    const store = await openLogStore({ dir: newDir() });
    const key = { jobId: 6, attempt: 1 };
    const controller = new AbortController();
    const pieces: string[] = [];
    const following = (async () => {
      for await (const piece of store.follow(key, 0, controller.signal)) pieces.push(piece);
    })();
    await store.append(key, [data(1, 'x')]);
    await waitFor('the first piece', () => pieces.length === 1);
    controller.abort();
    await following;
    assert.deepEqual(pieces, ['x']);
    await store.close();
  });

  it('refuses new chunks once complete, acknowledges resent ones, and stays complete after reopening', async () => {
    const dir = newDir();
    const key = { jobId: 7, attempt: 3 };
    let store = await openLogStore({ dir });
    await store.append(key, [data(1, 'all\n'), data(2, 'done\n')]);
    await store.complete(key);
    await store.complete(key);
    assert.deepEqual(await store.append(key, [data(2, 'done\n')]), { ackedSeq: 2 });
    await assert.rejects(store.append(key, [data(3, 'late\n')]), (error: unknown) => isSlipwayError(error, 'CONFLICT') && /is complete/.test(error.message));
    await store.close();
    store = await openLogStore({ dir });
    assert.deepEqual(await store.read(key), { text: 'all\ndone\n', nextOffset: 9, size: 9, complete: true });
    await assert.rejects(store.append(key, [data(3, 'late\n')]), /is complete/);
    const empty = { jobId: 7, attempt: 4 };
    await store.complete(empty);
    assert.deepEqual(await store.read(empty), { text: '', nextOffset: 0, size: 0, complete: true }, 'a log with no output can complete');
    await store.close();
  });

  it('cuts a torn tail on reopening and keeps the last durable seq', async () => {
    const dir = newDir();
    const key = { jobId: 8, attempt: 1 };
    let store = await openLogStore({ dir });
    await store.append(key, [data(1, 'durable one\n'), data(2, 'durable two\n')]);
    await store.close();
    const log = path.join(dir, '8', '1.log');
    const index = path.join(dir, '8', '1.idx');
    const indexSize = (await stat(index)).size;
    // What a crash mid-write leaves: log bytes nobody indexed, and index records that are
    // torn, corrupt, or intact but pointing past the end of the log.
    await appendFile(log, 'torn tail, never acknowledged');
    const beyond = Buffer.alloc(24);
    beyond.writeDoubleLE(9, 0);
    beyond.writeDoubleLE(10_000, 8);
    beyond.writeUInt32LE(crc32(beyond.subarray(0, 20)), 20);
    const corrupt = Buffer.from(beyond);
    corrupt.writeDoubleLE(40, 8);
    await appendFile(index, Buffer.concat([corrupt, beyond, Buffer.from('half a rec')]));

    store = await openLogStore({ dir });
    assert.equal(await store.lastSeq(key), 2);
    assert.equal(await textOf(store, key), 'durable one\ndurable two\n');
    assert.equal((await stat(log)).size, 24, 'the log is cut at the last indexed offset');
    assert.equal((await stat(index)).size, indexSize, 'the index is cut after its last good record');
    assert.deepEqual(await store.append(key, [data(2, 'durable two\n'), data(3, 'three\n')]), { ackedSeq: 3 });
    assert.equal(await textOf(store, key), 'durable one\ndurable two\nthree\n');
    await store.close();
  });

  it('treats a log whose index has no intact header as never written', async () => {
    const dir = newDir();
    const key = { jobId: 9, attempt: 1 };
    let store = await openLogStore({ dir });
    await store.append(key, [data(1, 'x')]);
    await store.close();
    await appendFile(path.join(dir, '9', '1.log'), 'junk');
    await rm(path.join(dir, '9', '1.idx'));
    store = await openLogStore({ dir });
    assert.equal(await store.lastSeq(key), 0);
    assert.equal(await textOf(store, key), '');
    assert.deepEqual(await store.append(key, [data(1, 'fresh')]), { ackedSeq: 1 });
    assert.equal(await textOf(store, key), 'fresh');
    await store.close();
  });

  it('keeps every acknowledged chunk exactly once when the process is killed with SIGKILL mid-stream', async () => {
    const dir = newDir();
    const jobs = 3;
    const writer = path.join(path.dirname(fileURLToPath(import.meta.url)), 'log-writer.js');
    const child = spawn(process.execPath, [writer, dir, String(jobs)], { stdio: ['ignore', 'pipe', 'inherit'] });
    const acked = new Map<number, number>();
    let buffered = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (text: string) => {
      buffered += text;
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        const [job, seq] = line.split(' ').map(Number);
        if (job !== undefined && seq !== undefined) acked.set(job, Math.max(acked.get(job) ?? 0, seq));
      }
    });
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('exit', (_code, signal) => resolve(signal)));
    await waitFor('the writer to acknowledge 300 chunks per job', () => acked.size === jobs && [...acked.values()].every((seq) => seq >= 300), 15_000);
    child.kill('SIGKILL');
    assert.equal(await exited, 'SIGKILL');

    const store = await openLogStore({ dir });
    for (let jobId = 1; jobId <= jobs; jobId += 1) {
      const key = { jobId, attempt: 1 };
      const last = await store.lastSeq(key);
      assert.ok(last >= (acked.get(jobId) ?? Infinity), `job ${jobId}: recovered seq ${last} covers the last ack ${acked.get(jobId)}`);
      let expected = '';
      for (let seq = 1; seq <= last; seq += 1) expected += writerText(jobId, seq);
      const text = await textOf(store, key);
      assert.equal(text.length, expected.length, `job ${jobId}: the log holds chunks 1..${last} and nothing else`);
      assert.ok(text === expected, `job ${jobId}: every chunk exactly once, in order`);
      assert.deepEqual(await store.append(key, [{ seq: last + 1, kind: 'data', stream: 'stdout', data: 'after\n', atMs: 0 }]), { ackedSeq: last + 1 });
    }
    await store.close();
  });

  it('stores each seq exactly once whatever batches, resends and gaps arrive (property)', async () => {
    const dir = newDir();
    const store = await openLogStore({ dir, commitDelayMs: 0, commitBytes: 64, maxPendingBytes: 256 });
    let jobId = 0;
    // back: how far before the next new seq the batch starts (a resend); gap: its last chunk skips one.
    const batch = fc.record({
      back: fc.integer({ min: 0, max: 6 }),
      length: fc.integer({ min: 0, max: 6 }),
      gap: fc.integer({ min: 0, max: 9 }).map((n) => n === 0),
    });
    const texts = fc.array(fc.string({ unit: 'grapheme', maxLength: 6 }), { minLength: 1, maxLength: 8 });
    await fc.assert(
      fc.asyncProperty(texts, fc.array(batch, { maxLength: 25 }), async (texts, batches) => {
        jobId += 1;
        const key = { jobId, attempt: 1 };
        const textOfSeq = (seq: number) => `${texts[seq % texts.length] ?? ''}|${seq}`;
        // The model: one attempt's appends apply in call order, so the outcome of each is known up front.
        let last = 0;
        const planned = batches.map(({ back, length, gap }) => {
          const from = Math.max(1, last + 1 - back);
          const seqs = Array.from({ length }, (_, i) => from + i + (gap && i === length - 1 ? 1 : 0));
          let rejected = false;
          for (const seq of seqs) {
            if (seq <= last) continue;
            if (seq > last + 1) {
              rejected = true;
              break;
            }
            last = seq;
          }
          return { seqs, rejected };
        });
        const results = await Promise.allSettled(planned.map(({ seqs }) => store.append(key, seqs.map((seq) => data(seq, textOfSeq(seq))))));
        planned.forEach(({ rejected }, i) => assert.equal(results[i]?.status, rejected ? 'rejected' : 'fulfilled', `batch ${i}`));
        let expected = '';
        for (let seq = 1; seq <= last; seq += 1) expected += textOfSeq(seq);
        assert.equal(await store.lastSeq(key), last);
        assert.equal(await textOf(store, key), expected);
      }),
      { numRuns: 60 },
    );
    await store.close();
  });

  it('keeps few descriptors open while writing to many attempts', async () => {
    const store = await openLogStore({ dir: newDir(), maxOpenFiles: 8 });
    const countFds = async () => (await readdir('/proc/self/fd')).length;
    const before = await countFds();
    await Promise.all(Array.from({ length: 40 }, (_, i) => store.append({ jobId: 100 + i, attempt: 1 }, [data(1, `job ${i}\n`)])));
    assert.ok((await countFds()) - before <= 8, 'at most 8 more descriptors than before');
    for (let i = 0; i < 40; i += 1) assert.equal(await textOf(store, { jobId: 100 + i, attempt: 1 }), `job ${i}\n`);
    await store.close();
  });

  it('removes every attempt of a job and nothing else, and tells how many bytes went', async () => {
    const dir = newDir();
    const store = await openLogStore({ dir });
    await store.append({ jobId: 10, attempt: 1 }, [data(1, 'first')]);
    await store.append({ jobId: 10, attempt: 2 }, [data(1, 'second')]);
    await store.append({ jobId: 11, attempt: 1 }, [data(1, 'other job')]);
    const files = await readdir(path.join(dir, '10'));
    let bytes = 0;
    for (const name of files) bytes += (await stat(path.join(dir, '10', name))).size;
    assert.equal(await store.remove(10), bytes, `the bytes of ${files.join(', ')}`);
    assert.equal(await store.remove(10), 0, 'nothing is left to remove');
    assert.deepEqual(await readdir(dir), ['11']);
    assert.equal(await textOf(store, { jobId: 10, attempt: 1 }), '');
    assert.equal(await store.lastSeq({ jobId: 10, attempt: 2 }), 0);
    assert.equal(await textOf(store, { jobId: 11, attempt: 1 }), 'other job');
    await store.close();
  });

  it('stores output given as UTF-8 bytes exactly as the same output given as text', async () => {
    const text = 'héllo wörld\n✓ done';
    const dir = newDir();
    const stores = await Promise.all(['text', 'bytes'].map((name) => openLogStore({ dir: path.join(dir, name), clock: () => 1_700_000_000_000 })));
    const [asText, asBytes] = stores;
    assert.ok(asText !== undefined && asBytes !== undefined);
    const key = { jobId: 1, attempt: 1 };
    const marker = { seq: 2, kind: 'section_start', section: 'script', atMs: 5 } as const;
    await asText.append(key, [data(1, text), marker]);
    await asBytes.append(key, [{ seq: 1, kind: 'data', stream: 'stdout', data: Buffer.from(text), atMs: 1 }, marker]);
    const [a, b] = await Promise.all([textOf(asText, key), textOf(asBytes, key)]);
    assert.equal(b, a);
    // The output did not end its line: the marker starts a new one, whichever form the output came in.
    assert.ok(b.includes(`✓ done\n${ESC}[0Ksection_start:`), b);
    await Promise.all(stores.map((store) => store.close()));
  });

  it("creates an attempt's files on prepare, then stores and acknowledges its first chunk; prepare is idempotent", async () => {
    const dir = newDir();
    const store = await openLogStore({ dir });
    const key = { jobId: 7, attempt: 2 };
    await store.prepare(key);
    await store.prepare(key);
    assert.deepEqual((await readdir(path.join(dir, '7'))).sort(), ['2.idx', '2.log']);
    assert.equal(await store.lastSeq(key), 0);
    assert.deepEqual(await store.append(key, [{ seq: 1, kind: 'data', stream: 'stdout', data: Buffer.from('first\n'), atMs: 3 }]), { ackedSeq: 1 });
    await store.close();
    const reopened = await openLogStore({ dir });
    assert.equal(await textOf(reopened, key), 'first\n');
    await reopened.prepare(key);
    assert.equal(await textOf(reopened, key), 'first\n', 'prepare leaves an existing log alone');
    await reopened.close();
  });

  it('rejects keys, seqs and offsets that are not whole numbers', async () => {
    const store = await openLogStore({ dir: newDir() });
    const usage = (error: unknown) => isSlipwayError(error, 'USAGE');
    await assert.rejects(store.append({ jobId: -1, attempt: 1 }, []), usage);
    await assert.rejects(store.append({ jobId: 1.5, attempt: 1 }, []), usage);
    await assert.rejects(store.append({ jobId: 1, attempt: 1 }, [data(0, 'x')]), usage);
    await assert.rejects(store.read({ jobId: 1, attempt: 1 }, { offset: -3 }), usage);
    await assert.rejects(store.read({ jobId: 1, attempt: 1 }, { limit: 0 }), usage);
    assert.throws(() => store.follow({ jobId: 1, attempt: Number.NaN }, 0), usage);
    await store.close();
  });
});
