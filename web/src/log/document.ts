import { lastAtOrBefore } from './sorted.js';

/**
 * A job log held once as a string, with its lines indexed in a Uint32Array of start
 * offsets: a million lines cost 4 MB of index and no per-line objects. Lines are parsed
 * for colours only when shown.
 *
 * Sections: the server writes GitLab's markers, `ESC[0Ksection_start:<unix s>:<name>\rESC[0K`
 * at the start of a line, and `…section_end…` where a section ends. A start marker is a
 * line of its own here (the section's header row) even when output follows it on the
 * same line of the raw log. Steps: the executor echoes each command of a script as a
 * bold green `$ command` line (src/executor/shell.ts); a step runs to the next one or to
 * the end of its section. Sections and steps both fold.
 */

export type Fold = {
  kind: 'section' | 'step';
  name: string;
  /** The header line: shown when folded. */
  header: number;
  /** The last line of the body, inclusive; null while the section is still open. */
  last: number | null;
  /** Seconds from the markers' times; null while open, and for steps. */
  seconds: number | null;
  startedAt: number | null;
};

const START = '\u001b[0Ksection_start:';
const END = '\u001b[0Ksection_end:';
const STEP = '\u001b[32;1m$ ';
// eslint-disable-next-line no-control-regex
const MARKER = /\u001b\[0Ksection_(start|end):(\d+):([A-Za-z0-9_.-]+)\r\u001b\[0K/y;
// eslint-disable-next-line no-control-regex
const MARKERS = /\u001b\[0Ksection_(?:start|end):\d+:[A-Za-z0-9_.-]+\r\u001b\[0K/g;


export class LogDocument {
  text = '';
  /** Bytes of the log read so far: where the next read by offset starts. */
  byteOffset = 0;
  private starts = new Uint32Array(1024);
  private lineCount = 1; // the line after the last newline always exists (empty at first)
  private scanned = 0; // text before this is indexed
  private nextNewline = -2;
  private nextStart = -2;
  private nextEnd = -2;
  private nextStep = -2;
  readonly folds: Fold[] = [];
  /** Header line → index into folds (the outermost fold of that line). */
  readonly headers = new Map<number, number>();
  private open: Fold[] = [];
  private openStep: Fold | null = null;
  /** Grows with every append: views re-render on it. */
  version = 0;

  get lines(): number {
    return this.lineCount;
  }

  append(text: string, bytes: number): void {
    if (text === '' && bytes === 0) return;
    this.text += text;
    this.byteOffset += bytes;
    // Positions "not found" so far may be found in the new text.
    this.nextNewline = this.nextNewline === -1 ? -2 : this.nextNewline;
    this.nextStart = this.nextStart === -1 ? -2 : this.nextStart;
    this.nextEnd = this.nextEnd === -1 ? -2 : this.nextEnd;
    this.nextStep = this.nextStep === -1 ? -2 : this.nextStep;
    this.scan();
    this.version += 1;
  }

  /** Line i as written, without its newline. */
  raw(i: number): string {
    const start = this.starts[i] ?? this.text.length;
    const end = i + 1 < this.lineCount ? (this.starts[i + 1] ?? this.text.length) : this.text.length;
    let line = this.text.slice(start, end);
    if (line.endsWith('\n')) line = line.slice(0, -1);
    return line;
  }

  /** Line i without section markers (a header row is then empty: the view shows the name). */
  line(i: number): string {
    const raw = this.raw(i);
    return raw.includes('section_') ? raw.replace(MARKERS, '') : raw;
  }

  lineStart(i: number): number {
    return this.starts[i] ?? this.text.length;
  }

  /** Lines to show: a final empty line after the last newline is not one. */
  get shownLines(): number {
    if (this.lineCount <= 1) return this.lineCount;
    // After the last newline: nothing, or only a section's end marker (the log's usual end).
    return this.lastLineOpen && this.line(this.lineCount - 1) !== '' ? this.lineCount : this.lineCount - 1;
  }

  /** The line holding a character position (binary search of the start offsets). */
  lineAt(position: number): number {
    return lastAtOrBefore(this.starts, position, this.lineCount);
  }

  /** Whether the log ends in the middle of a line (the last line may still grow). */
  get lastLineOpen(): boolean {
    return this.text.length > (this.starts[this.lineCount - 1] ?? 0);
  }

  private pushStart(position: number): void {
    if (this.lineCount === this.starts.length) {
      const bigger = new Uint32Array(this.starts.length * 2);
      bigger.set(this.starts);
      this.starts = bigger;
    }
    this.starts[this.lineCount] = position;
    this.lineCount += 1;
  }

  private find(what: string, cached: number, from: number): number {
    if (cached >= from || cached === -1) return cached;
    return this.text.indexOf(what, from);
  }

  private scan(): void {
    const text = this.text;
    let pos = this.scanned;
    if (this.pendingBreak >= 0 && this.pendingBreak === pos && pos < text.length) {
      if (text[pos] !== '\n') this.pushStart(pos);
      this.pendingBreak = -1;
    }
    for (;;) {
      this.nextNewline = this.find('\n', this.nextNewline, pos);
      this.nextStart = this.find(START, this.nextStart, pos);
      this.nextEnd = this.find(END, this.nextEnd, pos);
      this.nextStep = this.find(STEP, this.nextStep, pos);
      // The hot loop of a million-line log: no allocation per line.
      let next = Infinity;
      if (this.nextNewline >= 0) next = this.nextNewline;
      if (this.nextStart >= 0 && this.nextStart < next) next = this.nextStart;
      if (this.nextEnd >= 0 && this.nextEnd < next) next = this.nextEnd;
      if (this.nextStep >= 0 && this.nextStep < next) next = this.nextStep;
      if (next === Infinity) break;
      if (next === this.nextNewline) {
        pos = next + 1;
        this.pushStart(pos);
        continue;
      }
      if (next === this.nextStep) {
        // Only a step echo that starts a line: the same colours mid-line are just output.
        if (next === this.starts[this.lineCount - 1]) this.startStep(next);
        pos = next + STEP.length;
        continue;
      }
      MARKER.lastIndex = next;
      const marker = MARKER.exec(text);
      if (marker === null) {
        // Either cut off by the end of what arrived so far (read it again after the next
        // append), or something that only looks like a marker.
        if (text.length - next < 160) break;
        pos = next + 1;
        continue;
      }
      const [whole, kind, time, name] = marker;
      const seconds = Number(time);
      if (kind === 'start') {
        // A start marker begins a line of its own, unless only end markers came before it there.
        const lineStart = this.starts[this.lineCount - 1] ?? 0;
        if (next !== lineStart && text.slice(lineStart, next).replace(MARKERS, '') !== '') this.pushStart(next);
        this.startSection(name ?? '', seconds);
        pos = next + whole.length;
        if (pos < text.length && text[pos] !== '\n') this.pushStart(pos); // output after it: its own line
        // The next line starts here once more text arrives (unless that is a newline).
        else if (pos >= text.length) this.pendingBreak = pos;
      } else {
        this.endSection(name ?? '', seconds, next);
        pos = next + whole.length;
      }
    }
    this.scanned = pos;
  }

  private pendingBreak = -1;

  private currentLine(): number {
    return this.lineCount - 1;
  }

  private addFold(fold: Fold): void {
    this.folds.push(fold);
    if (!this.headers.has(fold.header)) this.headers.set(fold.header, this.folds.length - 1);
  }

  private closeStep(last: number): void {
    if (this.openStep === null) return;
    this.openStep.last = Math.max(this.openStep.header, last);
    this.openStep = null;
  }

  private startSection(name: string, seconds: number): void {
    this.closeStep(this.currentLine() - 1);
    const fold: Fold = { kind: 'section', name, header: this.currentLine(), last: null, seconds: null, startedAt: seconds };
    this.open.push(fold);
    this.addFold(fold);
  }

  private endSection(name: string, seconds: number, position: number): void {
    // The end marker starts a line; the body ends on the line before it.
    const line = this.currentLine();
    const lastBody = this.starts[line] === position ? line - 1 : line;
    this.closeStep(lastBody);
    const index = this.open.findLastIndex((f) => f.name === name);
    if (index < 0) return;
    for (const fold of this.open.splice(index)) {
      fold.last = Math.max(fold.header, lastBody);
      fold.seconds = fold.startedAt === null ? null : Math.max(0, seconds - fold.startedAt);
    }
  }

  private startStep(position: number): void {
    const line = this.lineAt(position);
    this.closeStep(line - 1);
    // The name is the command: the view reads it from the header line, which may still be arriving.
    const fold: Fold = { kind: 'step', name: '', header: line, last: null, seconds: null, startedAt: null };
    this.openStep = fold;
    this.addFold(fold);
  }
}
