import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Masker } from '../../src/executor/masking.js';
import { MAX_CHUNK_CHARS, ProcessStream, splitText } from '../../src/executor/output.js';
import { logText, makeJob, makeSandbox } from './helpers.js';

type Sandbox = Awaited<ReturnType<typeof makeSandbox>>;

describe('job output', () => {
  let sandbox: Sandbox;
  before(async () => {
    sandbox = await makeSandbox();
  });
  after(async () => {
    await sandbox.remove();
  });

  it('numbers chunks from 1 without gaps and keeps UTF-8 characters whole', async () => {
    // 20000 lines of 17 bytes written by cat in large blocks: reads of the pipe end at
    // arbitrary bytes, inside characters.
    const { result, chunks, log } = await sandbox.run(
      makeJob({
        script: [
          "{ yes 'héllo wörld €' || true; } | head -n 20000 > big.txt",
          'cat big.txt',
          "printf '\\342\\202'; sleep 0.05; printf '\\254\\n'",
        ],
      }),
    );
    assert.equal(result.status, 'success', log.slice(-2000));
    chunks.forEach((chunk, index) => assert.equal(chunk.seq, index + 1));
    for (let i = 1; i < chunks.length; i += 1) {
      assert.ok((chunks[i]?.atMs ?? 0) >= (chunks[i - 1]?.atMs ?? 0), 'atMs never goes back');
    }
    const stdout = logText(chunks, 'stdout');
    assert.ok(!stdout.includes('\uFFFD'), 'no character was cut in two');
    const lines = stdout.split('\n').filter((line) => line === 'héllo wörld €');
    assert.equal(lines.length, 20000);
    assert.match(stdout, /^€$/m);
    for (const chunk of chunks) {
      if (chunk.kind === 'data') assert.ok(chunk.data.length <= MAX_CHUNK_CHARS);
    }
  });

  it('masks a secret printed in two pieces by separate writes', async () => {
    const secret = 's3cr3t-value';
    const { result, chunks } = await sandbox.run(
      makeJob({
        script: [
          "printf 's3cr'; sleep 0.05; printf '3t-value\\n'",
          'echo "again: $TOKEN and $TOKEN" >&2',
          "printf 'half s3cr'",
        ],
      }),
      { variables: { TOKEN: secret }, maskedValues: [secret, 'ab'] },
    );
    assert.equal(result.status, 'success');
    const all = chunks.map((chunk) => (chunk.kind === 'data' ? chunk.data : '')).join('');
    assert.ok(!all.includes(secret), 'the secret never appears');
    assert.match(logText(chunks, 'stdout'), /^\[MASKED\]$/m);
    assert.match(logText(chunks, 'stderr'), /^again: \[MASKED\] and \[MASKED\]$/m);
    assert.match(logText(chunks, 'stdout'), /half s3cr$/, 'a held-back tail is flushed at the end');
    assert.match(logText(chunks, 'system'), /1 masked value shorter than 4 characters will not be masked/);
  });

  it('masks values in what the executor itself prints', async () => {
    const { chunks } = await sandbox.run(makeJob({ name: 'deploy-with-hunter22' }), { maskedValues: ['hunter22'] });
    assert.match(logText(chunks, 'system'), /Running job "deploy-with-\[MASKED\]"/);
  });
});

describe('stream masking', () => {
  function feed(masker: Masker, pieces: string[], markers: string[] = []): { text: string; markers: string[] } {
    let text = '';
    const seen: string[] = [];
    const stream = new ProcessStream({
      masker,
      markers,
      onText: (piece) => (text += piece),
      onMarker: (marker) => seen.push(marker),
    });
    for (const piece of pieces) stream.write(Buffer.from(piece));
    stream.end();
    return { text, markers: seen };
  }

  it('masks a secret split at every possible place', () => {
    const secret = 'correct-horse';
    for (let cut = 1; cut < secret.length; cut += 1) {
      const { text } = feed(new Masker([secret]), [`x ${secret.slice(0, cut)}`, `${secret.slice(cut)} y`]);
      assert.equal(text, 'x [MASKED] y');
    }
  });

  it('masks overlapping secrets as one and keeps the longest first', () => {
    const { text } = feed(new Masker(['abcdef', 'defghi', 'abcd']), ['-abcdefghi-', 'ab', 'cd!']);
    assert.equal(text, '-[MASKED]-[MASKED]!');
  });

  it('emits text without holding back what cannot start a secret', () => {
    const masker = new Masker(['secret']);
    let text = '';
    const stream = new ProcessStream({ masker, onText: (piece) => (text += piece) });
    stream.write(Buffer.from('plain output\n'));
    assert.equal(text, 'plain output\n');
    stream.write(Buffer.from('tail se'));
    assert.equal(text, 'plain output\ntail ');
  });

  it('cuts markers out of the text even when they arrive in pieces', () => {
    const { text, markers } = feed(new Masker([]), ['one\nMAR', 'KER-1two\n'], ['MARKER-1']);
    assert.equal(text, 'one\ntwo\n');
    assert.deepEqual(markers, ['MARKER-1']);
  });

  it('splits long text without separating a surrogate pair', () => {
    const text = `${'a'.repeat(4)}😀${'b'.repeat(3)}`;
    const pieces = splitText(text, 5);
    assert.equal(pieces.join(''), text);
    assert.deepEqual(pieces, ['aaaa', '😀bbb']);
  });
});
