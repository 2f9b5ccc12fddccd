import { closeSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import type { AttemptEvent } from '../protocol/index.js';

/**
 * The events of one job attempt on their way to the server. Every event is appended to
 * a JSON-lines file as it is produced and read back from there to be sent, so memory
 * holds one batch at a time however far the connection falls behind. The file stays
 * until the server has acknowledged the attempt's last event.
 *
 * Cursors: events up to `ackedSeq` are stored by the server; `sendOffset` is where the
 * next batch starts in the file. Each batch sent on the current connection is
 * remembered (its first offset and last seq, a few numbers) until acknowledged, so a
 * reconnect can rewind to the first unacknowledged one. Lines are written by this
 * class only and start with `{"seq":N,`.
 *
 * Not safe across processes: an agent that restarts has lost its jobs, and clears the
 * outbox folder at start.
 */
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
    const { seq, ...rest } = event;
    const text = `${JSON.stringify({ seq, ...rest })}\n`;
    const length = Buffer.byteLength(text);
    // The string is written as is (no Buffer of it): the agent's hottest copy at high output rates.
    let written = writeSync(this.fd, text, this.writtenBytes);
    if (written < length) {
      const line = Buffer.from(text);
      while (written < length) written += writeSync(this.fd, line, written, length - written, this.writtenBytes + written);
    }
    this.writtenBytes += length;
    this.lastSeq = seq;
    if (event.kind === 'finished') this.finishedSeq = seq;
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
   * The next events to send, as the UTF-8 inside of a JSON array (`{…},{…}`): at most
   * maxBytes, but always at least one whole event. Marks them sent. Bytes, not a string:
   * at hundreds of MB/s each conversion between the two is a visible share of the agent's CPU.
   */
  nextBatch(maxBytes: number): { events: Buffer; lastSeq: number; bytes: number } | null {
    while (this.pending && this.fd !== null) {
      const startOffset = this.sendOffset;
      const lines = this.readLines(startOffset, maxBytes);
      this.sendOffset += lines.length;
      // Seqs grow along the file: the lines already acknowledged (after a rewind) are a prefix.
      let first = 0;
      while (first < lines.length && seqAt(lines, first) <= this.ackedSeq) first = lines.indexOf(0x0a, first) + 1;
      if (first >= lines.length) continue;
      const lastLine = lines.lastIndexOf(0x0a, lines.length - 2) + 1;
      const lastSeq = seqAt(lines, lastLine);
      const events = lines.subarray(first, lines.length - 1);
      // JSON escapes newlines inside strings: every 0x0a is a line end, now a separator.
      for (let at = events.indexOf(0x0a); at >= 0; at = events.indexOf(0x0a, at + 1)) events[at] = 0x2c;
      const bytes = events.length;
      this.inFlight.push({ startOffset, lastSeq, bytes });
      this.inFlightTotal += bytes;
      return { events, lastSeq, bytes };
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

  /** Whole lines from offset: about maxBytes, more when one line is longer than that. */
  private readLines(offset: number, maxBytes: number): Buffer {
    const fd = this.fd;
    if (fd === null) return Buffer.alloc(0);
    let size = Math.min(maxBytes, this.writtenBytes - offset);
    for (;;) {
      const buffer = Buffer.allocUnsafe(size);
      let read = 0;
      while (read < size) {
        const n = readSync(fd, buffer, read, size - read, offset + read);
        if (n === 0) break;
        read += n;
      }
      // Within maxBytes: as many whole lines as fit; beyond it (one long line): just that one.
      const end = size <= maxBytes ? buffer.lastIndexOf(0x0a, read - 1) : buffer.subarray(0, read).indexOf(0x0a);
      // Lines end with '\n' (JSON escapes it inside strings), and the last one written is
      // whole: a read reaching writtenBytes always ends on a newline.
      if (end >= 0) return buffer.subarray(0, end + 1);
      const larger = Math.min(size * 2, this.writtenBytes - offset);
      if (larger <= size) throw new Error(`${this.file}: no line end after offset ${offset}`);
      size = larger;
    }
  }
}

const SEQ_PREFIX = Buffer.from('{"seq":');

/** The seq of the line starting at start: lines start with `{"seq":N,`. */
function seqAt(lines: Buffer, start: number): number {
  let at = start + SEQ_PREFIX.length;
  let seq = 0;
  const prefixed = lines.compare(SEQ_PREFIX, 0, SEQ_PREFIX.length, start, at) === 0;
  for (; prefixed && at < lines.length && lines[at] !== 0x2c; at++) {
    const digit = (lines[at] ?? 0) - 0x30;
    if (digit < 0 || digit > 9) break;
    seq = seq * 10 + digit;
  }
  if (!prefixed || lines[at] !== 0x2c || at === start + SEQ_PREFIX.length) {
    throw new Error(`outbox line without a seq: ${lines.toString('utf8', start, Math.min(lines.length, start + 40))}`);
  }
  return seq;
}
