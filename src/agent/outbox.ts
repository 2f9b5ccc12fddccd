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
  private inFlight: Array<{ startOffset: number; lastSeq: number }> = [];
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
    const line = Buffer.from(`${JSON.stringify({ seq, ...rest })}\n`);
    let written = 0;
    while (written < line.length) written += writeSync(this.fd, line, written, line.length - written, this.writtenBytes + written);
    this.writtenBytes += line.length;
    this.lastSeq = seq;
    if (event.kind === 'finished') this.finishedSeq = seq;
  }

  /** Whether there are events not yet sent on this connection. */
  get pending(): boolean {
    return this.fd !== null && this.sendOffset < this.writtenBytes;
  }

  /**
   * The next events to send, as the inside of a JSON array (`{…},{…}`): at most maxBytes,
   * but always at least one whole event. Marks them sent.
   */
  nextBatch(maxBytes: number): { events: string; lastSeq: number } | null {
    while (this.pending && this.fd !== null) {
      const startOffset = this.sendOffset;
      const text = this.readLines(startOffset, maxBytes);
      this.sendOffset += Buffer.byteLength(text);
      const lines = text.split('\n').filter((line) => line !== '' && seqOf(line) > this.ackedSeq);
      if (lines.length === 0) continue;
      const lastSeq = seqOf(lines[lines.length - 1] ?? '');
      this.inFlight.push({ startOffset, lastSeq });
      return { events: lines.join(','), lastSeq };
    }
    return null;
  }

  /** The server stored everything up to seq (cumulative). */
  ack(seq: number): void {
    if (seq <= this.ackedSeq) return;
    this.ackedSeq = Math.min(seq, this.lastSeq);
    while ((this.inFlight[0]?.lastSeq ?? Infinity) <= this.ackedSeq) this.inFlight.shift();
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
  }

  /** Closes and deletes the file; later appends are dropped. Idempotent. */
  remove(): void {
    if (this.fd === null) return;
    closeSync(this.fd);
    this.fd = null;
    rmSync(this.file, { force: true });
  }

  /** Whole lines from offset: about maxBytes, more when one line is longer than that. */
  private readLines(offset: number, maxBytes: number): string {
    const fd = this.fd;
    if (fd === null) return '';
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
      if (end >= 0) return buffer.toString('utf8', 0, end + 1);
      const larger = Math.min(size * 2, this.writtenBytes - offset);
      if (larger <= size) throw new Error(`${this.file}: no line end after offset ${offset}`);
      size = larger;
    }
  }
}

function seqOf(line: string): number {
  const match = /^\{"seq":(\d+),/.exec(line);
  if (match === null) throw new Error(`outbox line without a seq: ${line.slice(0, 40)}`);
  return Number(match[1]);
}
