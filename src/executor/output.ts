import { StringDecoder } from 'node:string_decoder';
import type { OutputChunk, OutputStream, SectionName } from './types.js';
import type { Masker } from './masking.js';

/**
 * A chunk's data holds at most this many UTF-16 code units (64 Ki, at most 192 KiB of
 * UTF-8): big enough that a chatty build makes few chunks, small enough that one
 * chunk never becomes a large message to the server.
 */
export const MAX_CHUNK_CHARS = 64 * 1024;

/**
 * Everything a job says goes through here: it numbers the chunks (seq from 1), stamps
 * them with the time since the job started, masks what the executor itself prints, and
 * goes silent once closed so nothing is written after runJob resolves.
 */
export class JobOutput {
  private readonly onOutput: (chunk: OutputChunk) => void;
  private readonly masker: Masker;
  private readonly startedAt: number;
  private seq = 0;
  private closed = false;

  constructor(onOutput: (chunk: OutputChunk) => void, masker: Masker, startedAt: number) {
    this.onOutput = onOutput;
    this.masker = masker;
    this.startedAt = startedAt;
  }

  private elapsedMs(): number {
    return Math.round(performance.now() - this.startedAt);
  }

  /** Output of a process, already masked; split into chunks of at most MAX_CHUNK_CHARS. */
  data(stream: OutputStream, text: string): void {
    for (const piece of splitText(text, MAX_CHUNK_CHARS)) {
      this.emit({ seq: 0, kind: 'data', stream, data: piece, atMs: this.elapsedMs() });
    }
  }

  /** A line the executor itself says. */
  system(line: string): void {
    this.data('system', `${this.masker.mask(line)}\n`);
  }

  warning(line: string): void {
    this.system(`WARNING: ${line}`);
  }

  sectionStart(section: SectionName): number {
    const atMs = this.elapsedMs();
    this.emit({ seq: 0, kind: 'section_start', section, atMs });
    return atMs;
  }

  sectionEnd(section: SectionName, startedAtMs: number): void {
    const atMs = this.elapsedMs();
    this.emit({ seq: 0, kind: 'section_end', section, atMs, durationMs: atMs - startedAtMs });
  }

  /** Runs fn inside a section; the section ends whether fn returns or throws. */
  async section<T>(section: SectionName, fn: () => Promise<T>): Promise<T> {
    const startedAtMs = this.sectionStart(section);
    try {
      return await fn();
    } finally {
      this.sectionEnd(section, startedAtMs);
    }
  }

  /** After this, every call is ignored: runJob has resolved. */
  close(): void {
    this.closed = true;
  }

  private emit(chunk: OutputChunk): void {
    if (this.closed) return;
    this.seq += 1;
    this.onOutput({ ...chunk, seq: this.seq });
  }
}

/**
 * Turns the bytes of one process stream into masked text. UTF-8 characters split
 * across reads are kept whole (StringDecoder); a tail that may be the start of a
 * masked value, or of a marker, is kept back until the next read or the end. Markers
 * are cut out of the text and reported separately.
 */
export class ProcessStream {
  private readonly decoder = new StringDecoder('utf8');
  private readonly masker: Masker;
  private readonly markers: readonly string[];
  private readonly onText: (text: string) => void;
  private readonly onMarker: (marker: string) => void;
  private pending = '';
  private ended = false;

  constructor(options: {
    masker: Masker;
    markers?: readonly string[];
    onText: (text: string) => void;
    onMarker?: (marker: string) => void;
  }) {
    this.masker = options.masker;
    this.markers = options.markers ?? [];
    this.onText = options.onText;
    this.onMarker = options.onMarker ?? (() => undefined);
  }

  write(bytes: Buffer): void {
    if (this.ended) return;
    this.process(this.pending + this.decoder.write(bytes), false);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    this.process(this.pending + this.decoder.end(), true);
  }

  private process(input: string, final: boolean): void {
    let text = input;
    for (let found = this.findMarker(text); found !== null; found = this.findMarker(text)) {
      this.emit(this.masker.mask(text.slice(0, found.index)));
      this.onMarker(found.marker);
      text = text.slice(found.index + found.marker.length);
    }
    if (final) {
      this.pending = '';
      this.emit(this.masker.mask(text));
      return;
    }
    const { ready, rest } = this.masker.split(text, this.markers);
    this.pending = rest;
    this.emit(ready);
  }

  private findMarker(text: string): { index: number; marker: string } | null {
    let best: { index: number; marker: string } | null = null;
    for (const marker of this.markers) {
      const index = text.indexOf(marker);
      if (index !== -1 && (best === null || index < best.index)) best = { index, marker };
    }
    return best;
  }

  private emit(text: string): void {
    if (text.length > 0) this.onText(text);
  }
}

/** Splits text into pieces of at most max code units, never between a surrogate pair. */
export function splitText(text: string, max: number): string[] {
  if (text.length <= max) return text.length === 0 ? [] : [text];
  const pieces: string[] = [];
  let at = 0;
  while (at < text.length) {
    let end = Math.min(at + max, text.length);
    const last = text.charCodeAt(end - 1);
    if (end < text.length && last >= 0xd800 && last <= 0xdbff) end -= 1;
    pieces.push(text.slice(at, end));
    at = end;
  }
  return pieces;
}
