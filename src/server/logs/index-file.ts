import { crc32 } from 'node:zlib';
import { MARKER_END } from './chunk.js';
import { closeFile, fileSize, isMissing, openFile, readAt, truncateFile } from './files.js';

/**
 * The index beside each attempt's log (`<attempt>.idx`): what of the log is durable.
 *
 *   header  (24 bytes): "SLWYIDX1", baseUnixMs (float64 LE), 0 (uint32), crc32 of bytes 0..20
 *   records (24 bytes each, after the header): seq (float64 LE), end offset in the
 *           log (float64 LE), flags (uint32 LE; 1 = complete), crc32 of bytes 0..20
 *
 * A record says "chunks 1..seq are the log's bytes 0..end". The store appends one per
 * attempt per group commit, after writing the log bytes and before syncing both files;
 * an append is acknowledged only once both are synced. Numbers are float64 because they
 * are JavaScript numbers: exact up to 2^53.
 */

export const RECORD_BYTES = 24;
export const HEADER_BYTES = 24;
const MAGIC = Buffer.from('SLWYIDX1', 'latin1');
const FLAG_COMPLETE = 1;

type IndexRecord = { seq: number; end: number; complete: boolean };

function sealed(buffer: Buffer): Buffer {
  buffer.writeUInt32LE(crc32(buffer.subarray(0, 20)), 20);
  return buffer;
}

function intact(buffer: Buffer, offset: number): boolean {
  return buffer.readUInt32LE(offset + 20) === crc32(buffer.subarray(offset, offset + 20));
}

export function encodeHeader(baseUnixMs: number): Buffer {
  const buffer = Buffer.alloc(HEADER_BYTES);
  MAGIC.copy(buffer, 0);
  buffer.writeDoubleLE(baseUnixMs, 8);
  return sealed(buffer);
}

function decodeHeader(buffer: Buffer): { baseUnixMs: number } | null {
  if (buffer.length < HEADER_BYTES || !buffer.subarray(0, 8).equals(MAGIC) || !intact(buffer, 0)) return null;
  return { baseUnixMs: buffer.readDoubleLE(8) };
}

export function encodeRecord(record: IndexRecord): Buffer {
  const buffer = Buffer.alloc(RECORD_BYTES);
  buffer.writeDoubleLE(record.seq, 0);
  buffer.writeDoubleLE(record.end, 8);
  buffer.writeUInt32LE(record.complete ? FLAG_COMPLETE : 0, 16);
  return sealed(buffer);
}

function decodeRecord(buffer: Buffer, offset: number): IndexRecord | null {
  if (!intact(buffer, offset)) return null;
  const seq = buffer.readDoubleLE(offset);
  const end = buffer.readDoubleLE(offset + 8);
  if (!Number.isSafeInteger(seq) || seq < 0 || !Number.isSafeInteger(end) || end < 0) return null;
  return { seq, end, complete: (buffer.readUInt32LE(offset + 16) & FLAG_COMPLETE) !== 0 };
}

/** An attempt as it stands on disk after recovery; indexSize 0: never created. */
type Recovered = { baseUnixMs: number; record: IndexRecord; indexSize: number; atLineStart: boolean };

function neverCreated(): Recovered {
  return { baseUnixMs: 0, record: { seq: 0, end: 0, complete: false }, indexSize: 0, atLineStart: true };
}

/** Records read per step of the backward scan; the last one is nearly always intact. */
const SCAN_RECORDS = 4096;

/**
 * Finds the last intact record whose bytes are all in the log and cuts both files
 * there: a torn tail (log bytes or index records written but never synced, a crash
 * mid-write) disappears, and what was acknowledged stays. An index without an intact
 * header means nothing was ever acknowledged: the attempt counts as never created.
 */
export async function recover(logPath: string, indexPath: string): Promise<Recovered> {
  let indexFd: number;
  try {
    indexFd = await openFile(indexPath, 'update');
  } catch (error) {
    if (isMissing(error)) return neverCreated();
    throw error;
  }
  let logFd: number | null = null;
  try {
    const header = decodeHeader(await readAt(indexFd, HEADER_BYTES, 0));
    if (header === null) return neverCreated();
    try {
      logFd = await openFile(logPath, 'update');
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
    const logSize = logFd === null ? 0 : await fileSize(logFd);
    const records = Math.max(0, Math.floor(((await fileSize(indexFd)) - HEADER_BYTES) / RECORD_BYTES));
    let found: { index: number; record: IndexRecord } | null = null;
    for (let high = records; high > 0 && found === null; ) {
      const low = Math.max(0, high - SCAN_RECORDS);
      const window = await readAt(indexFd, (high - low) * RECORD_BYTES, HEADER_BYTES + low * RECORD_BYTES);
      for (let index = high - 1; index >= low; index -= 1) {
        const record = decodeRecord(window, (index - low) * RECORD_BYTES);
        if (record !== null && record.end <= logSize) {
          found = { index, record };
          break;
        }
      }
      high = low;
    }
    const record = found?.record ?? { seq: 0, end: 0, complete: false };
    const indexSize = HEADER_BYTES + ((found?.index ?? -1) + 1) * RECORD_BYTES;
    await truncateFile(indexFd, indexSize);
    if (logFd !== null && logSize > record.end) await truncateFile(logFd, record.end);
    const atLineStart = logFd === null || record.end === 0 || endsLine(await readAt(logFd, Math.min(record.end, MARKER_END.length), Math.max(0, record.end - MARKER_END.length)));
    return { baseUnixMs: header.baseUnixMs, record, indexSize, atLineStart };
  } finally {
    closeFile(indexFd);
    if (logFd !== null) closeFile(logFd);
  }
}

function endsLine(tail: Buffer): boolean {
  const text = tail.toString('latin1');
  return text.endsWith('\n') || text.endsWith(MARKER_END);
}
