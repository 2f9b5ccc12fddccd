import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { RECORD_HEADER_BYTES, encodeRecord, recordLength, recordSeq, type AttemptEvent } from '../protocol/index.js';

/**
 * The events of one job attempt on their way to the server. Every event is appended to
 * a file as it is produced, as the binary record the server receives (protocol frames),
 * and read back from there to be sent, so memory holds one batch at a time however far
 * the connection falls behind. The file stays until the server has acknowledged the
 * attempt's last event.
 *
 * Cursors: events up to `ackedSeq` are stored by the server; `sendOffset` is where the
 * next batch starts in the file. Each batch sent on the current connection is
 * remembered (its first offset and last seq, a few numbers) until acknowledged, so a
 * reconnect can rewind to the first unacknowledged one. Records are written by this
 * class only; each starts with its length and carries its seq.
 *
 * Not safe across processes: an agent that restarts has lost its jobs, and clears the
 * outbox folder at start.
 */
// Output chunks are at most 64 Ki UTF-16 units (the executor's MAX_CHUNK_CHARS), 192 KiB of
// UTF-8 at worst: each is encoded here and written out at once, without an allocation.
const scratch = Buffer.allocUnsafe(RECORD_HEADER_BYTES + 3 * 64 * 1024);

export class Outbox {
  readonly file: string;
  private fd: number | null;
  private writtenBytes = 0;
  private sendOffset = 0;
  private inFlight: Array<{ startOffset: number; lastSeq: number; bytes: number }> = [];
  private inFlightTotal = 0;
  /** The highest seq appended. */
  lastSeq = 0;
  /** The highest seq the server has stored. */
  ackedSeq = 0;
  /** The seq of the `finished` event, once appended. */
  finishedSeq: number | null = null;

  constructor(file: string) {
    this.file = file;
    this.fd = openSync(file, 'w+');
  }

  get removed(): boolean {
    return this.fd === null;
  }

  /** Whether the server has stored everything, `finished` included. */
  get delivered(): boolean {
    return this.finishedSeq !== null && this.ackedSeq >= this.finishedSeq;
  }

  /** Persists one event (to the page cache: it guards against memory, not power loss). */
  append(event: AttemptEvent): void {
    if (this.fd === null) return;
    const record = encodeRecord(event, scratch);
    for (let written = 0; written < record.length; ) {
      written += writeSync(this.fd, record, written, record.length - written, this.writtenBytes + written);
    }
    this.writtenBytes += record.length;
    this.lastSeq = event.seq;
    if (event.kind === 'finished') this.finishedSeq = event.seq;
  }

  /** Whether there are events not yet sent on this connection. */
  get pending(): boolean {
    return this.fd !== null && this.sendOffset < this.writtenBytes;
  }

  /** Whether a batch sent on this connection still waits for its ack. */
  get awaitingAck(): boolean {
    return this.inFlight.length > 0;
  }

  /**
   * The next events to send as one frame: header (the frame's, made by the caller)
   * followed by records, at most maxBytes of them but always at least one whole event.
   * Marks them sent. `bytes` counts the records, as the send window does.
   */
  nextBatch(maxBytes: number, header: Buffer): { frame: Buffer; lastSeq: number; bytes: number } | null {
    while (this.pending && this.fd !== null) {
      const startOffset = this.sendOffset;
      // Read behind room for the header: the frame is sent without another copy.
      const { buffer, lastStart } = this.readRecords(startOffset, maxBytes, header.length);
      const records = buffer.subarray(header.length);
      this.sendOffset += records.length;
      // Seqs grow along the file: the records already acknowledged (after a rewind) are a prefix.
      let first = 0;
      while (first < records.length && recordSeq(records, first) <= this.ackedSeq) first += recordLength(records, first);
      if (first >= records.length) continue;
      const lastSeq = recordSeq(records, lastStart);
      const frame = buffer.subarray(first);
      header.copy(frame, 0);
      const bytes = records.length - first;
      this.inFlight.push({ startOffset, lastSeq, bytes });
      this.inFlightTotal += bytes;
      return { frame, lastSeq, bytes };
    }
    return null;
  }

  /** The server stored everything up to seq (cumulative). */
  ack(seq: number): void {
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = Math.min(seq, this.lastSeq);
    while ((this.inFlight[0]?.lastSeq ?? Infinity) <= this.ackedSeq) this.inFlightTotal -= this.inFlight.shift()?.bytes ?? 0;
  }

  /**
   * Bytes of the batches sent on this connection and not yet acknowledged (a batch counts
   * until its last event is): what the agent's send window limits.
   */
  get inFlightBytes(): number {
    return this.inFlightTotal;
  }

  /**
   * A new connection: the server has stored up to serverAckedSeq; everything after it is
   * sent again. A server that claims less than it acknowledged before (it lost data it
   * said was durable) gets the whole file again, minus what it still has.
   */
  rewind(serverAckedSeq: number): void {
    if (serverAckedSeq >= this.ackedSeq) {
      this.ack(serverAckedSeq);
      this.sendOffset = this.inFlight[0]?.startOffset ?? this.sendOffset;
    } else {
      this.ackedSeq = serverAckedSeq;
      this.sendOffset = 0;
    }
    this.inFlight = [];
    this.inFlightTotal = 0;
  }

  /** Closes and deletes the file; later appends are dropped. Idempotent. */
  remove(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    this.inFlight = [];
    this.inFlightTotal = 0;
    rmSync(this.file, { force: true });
  }

  /**
   * Whole records from offset, headroom bytes into the buffer returned: as many as fit in
   * maxBytes, or the first one alone when it is larger. Says where the last one starts
   * (counted from the first record).
   */
  private readRecords(offset: number, maxBytes: number, headroom: number): { buffer: Buffer; lastStart: number } {
    const fd = this.fd;
    if (fd === null) return { buffer: Buffer.alloc(headroom), lastStart: 0 };
    const available = this.writtenBytes - offset;
    let buffer = this.read(fd, offset, Math.min(available, Math.max(maxBytes, RECORD_HEADER_BYTES)), headroom);
    const firstLength = recordLength(buffer, headroom);
    if (headroom + firstLength > buffer.length) {
      if (firstLength > available) throw new Error(`${this.file}: a record at offset ${offset} runs past the end`);
      return { buffer: this.read(fd, offset, firstLength, headroom), lastStart: 0 };
    }
    let end = headroom;
    let lastStart = 0;
    // The file holds whole records only (each is written at once), so the walk ends on a boundary.
    while (end + RECORD_HEADER_BYTES <= buffer.length) {
      const length = recordLength(buffer, end);
      if (length < RECORD_HEADER_BYTES) throw new Error(`${this.file}: a record at offset ${offset + end - headroom} has a bad length ${length}`);
      if (end + length > buffer.length) break;
      lastStart = end - headroom;
      end += length;
    }
    buffer = buffer.subarray(0, end);
    return { buffer, lastStart };
  }

  /** size bytes of the file from offset, headroom bytes into a new buffer. */
  private read(fd: number, offset: number, size: number, headroom: number): Buffer {
    const buffer = Buffer.allocUnsafe(headroom + size);
    let read = 0;
    while (read < size) {
      const n = readSync(fd, buffer, headroom + read, size - read, offset + read);
      if (n === 0) throw new Error(`${this.file}: ends at ${offset + read}, before ${offset + size}`);
      read += n;
    }
    return buffer;
  }
}
