import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { decodeEventsFrame, encodeEventsFrame, type AttemptEvent, type FrameEvent } from '../../src/protocol/index.js';

const sections = ['prepare', 'artifacts_download', 'cache_restore', 'before_script', 'script', 'after_script', 'cache_save', 'artifacts_upload'] as const;
const time = fc.double({ min: 0, max: 1e12, noNaN: true, noDefaultInfinity: true });

/** Any event, with a seq filled in later. */
const eventBody: fc.Arbitrary<Omit<AttemptEvent, 'seq'>> = fc.oneof(
  fc.record({ kind: fc.constant('data' as const), stream: fc.constantFrom('stdout' as const, 'stderr' as const, 'system' as const), data: fc.string({ unit: 'binary' }), atMs: time }),
  fc.record({ kind: fc.constant('section_start' as const), section: fc.constantFrom(...sections), atMs: time }),
  fc.record({ kind: fc.constant('section_end' as const), section: fc.constantFrom(...sections), atMs: time, durationMs: time }),
  fc.record({ kind: fc.constant('started' as const), atMs: time }),
  fc.record({
    kind: fc.constant('finished' as const),
    atMs: time,
    result: fc.record({
      status: fc.constantFrom('success' as const, 'failed' as const, 'canceled' as const),
      failure: fc.constantFrom(null, { kind: 'script_failure' as const, exitCode: 3, message: 'exit 3' }),
      exitCode: fc.option(fc.integer({ min: -255, max: 255 })),
      durationMs: time,
      artifacts: fc.constantFrom(null, { archive: '/tmp/a.tar.gz', files: 2, sizeBytes: 10 }),
    }),
  }),
);

/** The event as the sender meant it: output back to a string. */
function asSent(event: FrameEvent): AttemptEvent {
  return event.kind === 'data' ? { ...event, data: event.data.toString('utf8') } : event;
}

function decoded(frame: Buffer) {
  const parsed = decodeEventsFrame(frame);
  if (!parsed.ok) assert.fail(parsed.error);
  return parsed.message;
}

function errorOf(frame: Buffer): string {
  const parsed = decodeEventsFrame(frame);
  assert.equal(parsed.ok, false, 'the frame is rejected');
  return parsed.ok ? '' : parsed.error;
}

const started: AttemptEvent = { seq: 1, kind: 'started', atMs: 0 };

describe('binary events frames', () => {
  it('decode to the events, attempt and token they were encoded from', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: 2 ** 48 - 1 }),
        fc.string({ minLength: 1, maxLength: 60 }),
        fc.integer({ min: 1, max: 2 ** 40 }),
        fc.array(eventBody, { minLength: 1, maxLength: 20 }),
        (attemptId, token, firstSeq, bodies) => {
          const events = bodies.map((body, index) => ({ ...body, seq: firstSeq + index }) as AttemptEvent);
          const message = decoded(encodeEventsFrame(attemptId, token, events));
          assert.equal(message.attemptId, attemptId);
          assert.equal(message.token, token);
          // A lone surrogate cannot be UTF-8: it arrives as U+FFFD, as JSON text frames did too.
          const expected = events.map((event) => (event.kind === 'data' ? { ...event, data: Buffer.from(event.data, 'utf8').toString('utf8') } : event));
          // Through JSON: fast-check's records have no prototype.
          assert.deepEqual(message.events.map(asSent), JSON.parse(JSON.stringify(expected)));
        },
      ),
    );
  });

  it('carry output bytes as views of the frame, without a copy', () => {
    const frame = encodeEventsFrame(3, 't', [{ seq: 1, kind: 'data', stream: 'stdout', data: 'héllo\n', atMs: 1 }]);
    const [event] = decoded(frame).events;
    assert.ok(event?.kind === 'data');
    assert.equal(event.data.buffer, frame.buffer);
    assert.equal(event.data.toString('utf8'), 'héllo\n');
  });

  it('reject any truncation of a frame with an error, never an exception', () => {
    const frame = encodeEventsFrame(9, 'token', [started, { seq: 2, kind: 'data', stream: 'stderr', data: 'some output\n', atMs: 5 }]);
    const recordsStart = 8 + 'token'.length;
    for (let length = 0; length < frame.length; length += 1) {
      if (length === recordsStart + 20) continue; // exactly the first record: a shorter, valid frame
      const error = errorOf(frame.subarray(0, length));
      assert.match(error, /^binary frame: /);
    }
  });

  it('reject malformed frames and say what is wrong', () => {
    const good = encodeEventsFrame(9, 'token', [started]);
    const recordAt = 8 + 'token'.length;
    const edit = (at: number, byte: number) => {
      const copy = Buffer.from(good);
      copy[at] = byte;
      return copy;
    };
    assert.match(errorOf(Buffer.alloc(3)), /shorter than a frame header/);
    assert.match(errorOf(edit(0, 7)), /unknown frame type 7/);
    assert.match(errorOf(edit(1, 0)), /no attempt token/);
    assert.match(errorOf(good.subarray(0, recordAt)), /no events/);
    assert.match(errorOf(edit(recordAt + 4, 42)), /record 0: unknown kind 42/);
    assert.match(errorOf(edit(recordAt + 3, 19)), /record 0 has a bad length 19/);
    assert.match(errorOf(edit(recordAt + 3, 200)), /record 0 has a bad length 200/);
    const zeroSeq = Buffer.from(good);
    zeroSeq.writeUIntBE(0, recordAt + 6, 6);
    assert.match(errorOf(zeroSeq), /seq must be positive/);
    const negativeTime = Buffer.from(good);
    negativeTime.writeDoubleBE(-1, recordAt + 12);
    assert.match(errorOf(negativeTime), /atMs must be a non-negative number/);

    const data = encodeEventsFrame(9, 'token', [{ seq: 1, kind: 'data', stream: 'stdout', data: 'ab', atMs: 0 }]);
    const badStream = Buffer.from(data);
    badStream[recordAt + 5] = 3;
    assert.match(errorOf(badStream), /unknown stream 3/);
    const notUtf8 = Buffer.from(data);
    notUtf8[recordAt + 20] = 0xff;
    assert.match(errorOf(notUtf8), /output is not UTF-8/);

    const result = { status: 'success', failure: null, exitCode: 0, durationMs: 1, artifacts: null } as const;
    const finished = encodeEventsFrame(9, 'token', [{ seq: 1, kind: 'finished', atMs: 0, result }]);
    const badResult = Buffer.from(finished);
    badResult.write('{"status":"maybe"', recordAt + 20, 'utf8');
    assert.match(errorOf(badResult), /record 0: the result is/);
  });

  it('survive arbitrary bytes: every input decodes or is rejected with a message', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const parsed = decodeEventsFrame(Buffer.from(bytes));
        if (!parsed.ok) assert.match(parsed.error, /^binary frame: /);
      }),
    );
  });
});
