import type { OutputChunk } from '../../executor/index.js';

/**
 * Prints the interleaved output of jobs running side by side: every line prefixed with
 * its job's name and the time since the job started, so parallel jobs stay readable.
 * Colours only on a TTY and never with NO_COLOR (https://no-color.org).
 */
export type Style = {
  color: boolean;
};

export function styleFor(stream: NodeJS.WriteStream): Style {
  const noColor = process.env.NO_COLOR !== undefined && process.env.NO_COLOR !== '';
  return { color: stream.isTTY === true && !noColor && process.env.TERM !== 'dumb' };
}

const PALETTE = [36, 35, 34, 33, 32, 96, 95, 94, 93, 92];
const SECTION_TITLES: Record<string, string> = {
  prepare: 'Preparing workspace',
  artifacts_download: 'Downloading artifacts',
  cache_restore: 'Restoring cache',
  before_script: 'Running before_script',
  script: 'Running script',
  after_script: 'Running after_script',
  cache_save: 'Saving cache',
  artifacts_upload: 'Collecting artifacts',
};

export function paint(style: Style, code: number | string, text: string): string {
  return style.color ? `\u001b[${code}m${text}\u001b[0m` : text;
}

/** Removes terminal escape sequences, for output without colours. */
export function stripEscapes(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g, '');
}

export function formatElapsed(ms: number): string {
  const totalSeconds = Math.floor(ms / 1000);
  const minutes = Math.floor(totalSeconds / 60);
  const seconds = totalSeconds % 60;
  return `${String(minutes).padStart(2, '0')}:${String(seconds).padStart(2, '0')}`;
}

export class JobPrinter {
  private readonly out: NodeJS.WritableStream;
  private readonly style: Style;
  private readonly width: number;
  private readonly colors = new Map<string, number>();
  /** An unfinished line per job and stream, printed when its newline arrives. */
  private readonly partial = new Map<string, { text: string; atMs: number }>();

  constructor(out: NodeJS.WritableStream, style: Style, jobNames: string[]) {
    this.out = out;
    this.style = style;
    this.width = Math.min(32, Math.max(8, ...jobNames.map((n) => n.length)));
    jobNames.forEach((name, i) => this.colors.set(name, PALETTE[i % PALETTE.length] ?? 36));
  }

  chunk(job: string, chunk: OutputChunk): void {
    if (chunk.kind === 'section_start') {
      this.flush(job);
      this.line(job, chunk.atMs, paint(this.style, '1', SECTION_TITLES[chunk.section] ?? chunk.section));
      return;
    }
    if (chunk.kind === 'section_end') return;
    const key = `${job}\u0000${chunk.stream}`;
    const pending = this.partial.get(key);
    const text = (pending?.text ?? '') + chunk.data;
    const lines = text.split('\n');
    const rest = lines.pop() ?? '';
    const atMs = pending?.atMs ?? chunk.atMs;
    for (const line of lines) this.write(job, atMs, line.replace(/\r$/, ''), chunk.stream);
    if (rest === '') this.partial.delete(key);
    else this.partial.set(key, { text: rest, atMs });
  }

  /** A line Slipway itself says about a job (retrying, skipped...). */
  note(job: string, atMs: number, text: string): void {
    this.line(job, atMs, paint(this.style, '2', text));
  }

  /** Prints what is left of a job's unfinished lines. */
  flush(job: string): void {
    for (const [key, pending] of this.partial) {
      const [name, stream] = key.split('\u0000');
      if (name !== job) continue;
      this.write(job, pending.atMs, pending.text, stream === 'stderr' ? 'stderr' : stream === 'system' ? 'system' : 'stdout');
      this.partial.delete(key);
    }
  }

  private write(job: string, atMs: number, text: string, stream: 'stdout' | 'stderr' | 'system'): void {
    // A carriage return redraws a line on a terminal (progress bars): keep the last state.
    const shown = text.includes('\r') ? text.slice(text.lastIndexOf('\r') + 1) : text;
    const plain = this.style.color ? shown : stripEscapes(shown);
    this.line(job, atMs, stream === 'system' ? paint(this.style, '2', plain) : plain);
  }

  private line(job: string, atMs: number, text: string): void {
    const name = job.length > this.width ? `${job.slice(0, this.width - 1)}…` : job.padEnd(this.width);
    const prefix = `${paint(this.style, this.colors.get(job) ?? 36, name)} ${paint(this.style, '2', formatElapsed(atMs))} │ `;
    this.out.write(`${prefix}${text}${this.style.color ? '\u001b[0m' : ''}\n`);
  }
}
