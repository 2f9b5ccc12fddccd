import { isUtf8 } from 'node:buffer';
import type { OutputStream, SectionName } from './index.js';
import { OUTPUT_STREAMS, SECTION_NAMES, jobResultSchema, type AttemptEvent, type Parsed } from './messages.js';

/**
 * Binary `events` frames (protocol version 2, docs/protocol.md): one attempt's events
 * with their output as raw UTF-8 bytes, so neither side turns megabytes of log into JSON
 * and back. A frame is a header naming the attempt and carrying its fencing token,
 * followed by records, each a fixed header and a body:
 *
 *   frame:  u8 type (1 = events) | u8 token length T | u48 attemptId | T bytes token | records…
 *   record: u32 record length (header included) | u8 kind | u8 code | u48 seq | f64 atMs | body
 *
 * kind 1 data (code: stream; body: the output, UTF-8), 2 section_start (code: section;
 * no body), 3 section_end (code: section; body: f64 durationMs), 4 started (no body),
 * 5 finished (body: the result as JSON). Numbers are big-endian. The agent's outbox keeps
 * records in this form, so a batch read from it is sent as it is.
 */

export const FRAME_EVENTS = 1;
export const FRAME_HEADER_BYTES = 8;
export const RECORD_HEADER_BYTES = 20;
// The token is a short random string (tens of bytes); one length byte is plenty.
const MAX_TOKEN_BYTES = 255;
// 2^48 - 1: what a u48 holds, and within Number.MAX_SAFE_INTEGER.
const MAX_U48 = 2 ** 48 - 1;

const KIND = { data: 1, section_start: 2, section_end: 3, started: 4, finished: 5 } as const;
const STREAMS: readonly OutputStream[] = OUTPUT_STREAMS;
const SECTIONS: readonly SectionName[] = SECTION_NAMES;

/** An event as a binary frame carries it: output is UTF-8 bytes rather than a string. */
export type FrameEvent =
  | Exclude<AttemptEvent, { kind: 'data' }>
  | { seq: number; kind: 'data'; stream: OutputStream; data: Buffer; atMs: number };

export type EventsFrame = { attemptId: number; token: string; events: FrameEvent[] };

/**
 * One event as a record. Data events are encoded straight from their string, once. With
 * scratch, a record that fits is written into it (a view of it is returned, valid until
 * scratch is used again): a caller that writes the record out at once allocates nothing.
 */
export function encodeRecord(event: AttemptEvent, scratch?: Buffer): Buffer {
  let record: Buffer;
  let code = 0;
  switch (event.kind) {
    case 'data': {
      // At most 3 bytes of UTF-8 per UTF-16 code unit: no need to measure the string first.
      const most = RECORD_HEADER_BYTES + event.data.length * 3;
      if (scratch !== undefined && most <= scratch.length) {
        const length = scratch.write(event.data, RECORD_HEADER_BYTES, 'utf8');
        record = scratch.subarray(0, RECORD_HEADER_BYTES + length);
      } else {
        const length = Buffer.byteLength(event.data, 'utf8');
        record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + length);
        record.write(event.data, RECORD_HEADER_BYTES, length, 'utf8');
      }
      code = STREAMS.indexOf(event.stream);
      break;
    }
    case 'section_start':
      record = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
      code = SECTIONS.indexOf(event.section);
      break;
    case 'section_end':
      record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + 8);
      record.writeDoubleBE(event.durationMs, RECORD_HEADER_BYTES);
      code = SECTIONS.indexOf(event.section);
      break;
    case 'started':
      record = Buffer.allocUnsafe(RECORD_HEADER_BYTES);
      break;
    case 'finished': {
      const body = Buffer.from(JSON.stringify(event.result), 'utf8');
      record = Buffer.allocUnsafe(RECORD_HEADER_BYTES + body.length);
      body.copy(record, RECORD_HEADER_BYTES);
      break;
    }
  }
  if (code < 0) throw new RangeError(`cannot encode a ${event.kind} event: unknown stream or section`);
  if (!Number.isSafeInteger(event.seq) || event.seq < 1 || event.seq > MAX_U48) throw new RangeError(`cannot encode seq ${event.seq}`);
  record.writeUInt32BE(record.length, 0);
  record[4] = KIND[event.kind];
  record[5] = code;
  record.writeUIntBE(event.seq, 6, 6);
  record.writeDoubleBE(event.atMs, 12);
  return record;
}

/** The seq of the record starting at offset (its header must be there). */
export function recordSeq(records: Buffer, offset: number): number {
  return records.readUIntBE(offset + 6, 6);
}

/** The length of the record starting at offset, as its header says. */
export function recordLength(records: Buffer, offset: number): number {
  return records.readUInt32BE(offset);
}

/** The header of an events frame for an attempt; the records follow it. */
export function encodeFrameHeader(attemptId: number, token: string): Buffer {
  const tokenBytes = Buffer.from(token, 'utf8');
  if (tokenBytes.length === 0 || tokenBytes.length > MAX_TOKEN_BYTES) throw new RangeError(`an attempt token must be 1 to ${MAX_TOKEN_BYTES} bytes`);
  if (!Number.isSafeInteger(attemptId) || attemptId < 0 || attemptId > MAX_U48) throw new RangeError(`cannot encode attempt id ${attemptId}`);
  const header = Buffer.allocUnsafe(FRAME_HEADER_BYTES + tokenBytes.length);
  header[0] = FRAME_EVENTS;
  header[1] = tokenBytes.length;
  header.writeUIntBE(attemptId, 2, 6);
  tokenBytes.copy(header, FRAME_HEADER_BYTES);
  return header;
}

/** A whole events frame (tests and small senders; the agent sends header and records as they are). */
export function encodeEventsFrame(attemptId: number, token: string, events: readonly AttemptEvent[]): Buffer {
  return Buffer.concat([encodeFrameHeader(attemptId, token), ...events.map((event) => encodeRecord(event))]);
}

/**
 * Parses an events frame. Output bytes are views into frame (no copy). Anything that is
 * not a well-formed frame is an error naming what is wrong, never an exception.
 */
export function decodeEventsFrame(frame: Buffer): Parsed<EventsFrame> {
  const fail = (error: string): Parsed<EventsFrame> => ({ ok: false, error: `binary frame: ${error}` });
  if (frame.length < FRAME_HEADER_BYTES) return fail(`${frame.length} bytes, shorter than a frame header`);
  if (frame[0] !== FRAME_EVENTS) return fail(`unknown frame type ${frame[0] ?? '?'}`);
  const tokenLength = frame[1] ?? 0;
  const recordsStart = FRAME_HEADER_BYTES + tokenLength;
  if (tokenLength === 0) return fail('no attempt token');
  if (recordsStart > frame.length) return fail('the attempt token runs past the end');
  const tokenBytes = frame.subarray(FRAME_HEADER_BYTES, recordsStart);
  if (!isUtf8(tokenBytes)) return fail('the attempt token is not UTF-8');
  const attemptId = frame.readUIntBE(2, 6);
  const events: FrameEvent[] = [];
  for (let at = recordsStart; at < frame.length; ) {
    const index = events.length;
    if (frame.length - at < RECORD_HEADER_BYTES) return fail(`record ${index} is cut short`);
    const length = frame.readUInt32BE(at);
    if (length < RECORD_HEADER_BYTES || length > frame.length - at) return fail(`record ${index} has a bad length ${length}`);
    const event = decodeRecord(frame, at, length);
    if (typeof event === 'string') return fail(`record ${index}: ${event}`);
    events.push(event);
    at += length;
  }
  if (events.length === 0) return fail('no events');
  return { ok: true, message: { attemptId, token: tokenBytes.toString('utf8'), events } };
}

/** The record at [at, at + length), or what is wrong with it. */
function decodeRecord(frame: Buffer, at: number, length: number): FrameEvent | string {
  const kind = frame[at + 4];
  const code = frame[at + 5] ?? 0;
  const seq = frame.readUIntBE(at + 6, 6);
  const atMs = frame.readDoubleBE(at + 12);
  const body = frame.subarray(at + RECORD_HEADER_BYTES, at + length);
  if (seq < 1) return 'seq must be positive';
  if (!(atMs >= 0 && Number.isFinite(atMs))) return 'atMs must be a non-negative number';
  const noBody = (event: FrameEvent): FrameEvent | string => (body.length === 0 ? event : `a ${event.kind} record has no body`);
  switch (kind) {
    case KIND.data: {
      const stream = STREAMS[code];
      if (stream === undefined) return `unknown stream ${code}`;
      if (!isUtf8(body)) return 'output is not UTF-8';
      return { seq, kind: 'data', stream, data: body, atMs };
    }
    case KIND.section_start:
    case KIND.section_end: {
      const section = SECTIONS[code];
      if (section === undefined) return `unknown section ${code}`;
      if (kind === KIND.section_start) return noBody({ seq, kind: 'section_start', section, atMs });
      if (body.length !== 8) return 'a section_end record carries its duration (8 bytes)';
      const durationMs = body.readDoubleBE(0);
      if (!(durationMs >= 0 && Number.isFinite(durationMs))) return 'durationMs must be a non-negative number';
      return { seq, kind: 'section_end', section, atMs, durationMs };
    }
    case KIND.started:
      return noBody({ seq, kind: 'started', atMs });
    case KIND.finished: {
      let value: unknown;
      try {
        value = JSON.parse(body.toString('utf8'));
      } catch (error) {
        return `the result is not JSON: ${(error as Error).message}`;
      }
      const result = jobResultSchema.safeParse(value);
      if (!result.success) return `the result is invalid: ${result.error.issues[0]?.path.join('.') ?? ''} ${result.error.issues[0]?.message ?? ''}`.trim();
      return { seq, kind: 'finished', atMs, result: result.data };
    }
    default:
      return `unknown kind ${kind ?? '?'}`;
  }
}
