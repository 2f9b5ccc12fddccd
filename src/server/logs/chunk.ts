/**
 * What an agent sends for a job attempt's log, and the text each chunk becomes. The
 * shape is the protocol's OutputChunk, which the execution core produces.
 */

import type { OutputChunk, OutputStream, SectionName } from '../../protocol/index.js';

export type LogStream = OutputStream;
export type LogSection = SectionName;
/**
 * atMs: milliseconds since the attempt started, on the agent's clock. Data is a string or
 * its UTF-8 bytes (as binary frames bring it: stored without a conversion); bytes must be
 * valid UTF-8, which the protocol's frame decoder checks.
 */
export type LogChunk =
  | Exclude<OutputChunk, { kind: 'data' }>
  | { seq: number; kind: 'data'; stream: OutputStream; data: string | Buffer; atMs: number };

/** One attempt of one job; each has its own log and its own sequence from 1. */
export type LogKey = { jobId: number; attempt: number };

/** GitLab's "erase to end of line", around every section marker so terminals show nothing. */
const CLEAR = '\u001b[0K';
/** What every section marker ends with; a log ending so is at the start of a line. */
export const MARKER_END = `\r${CLEAR}`;

/** Where the text of an attempt stands, as rendering needs it. */
export type RenderState = {
  /** The unix time (ms) the attempt started, on the server's clock: atMs counts from it. */
  baseUnixMs: number;
  /** The log is empty, ends with a newline or with a section marker. */
  atLineStart: boolean;
};

/**
 * The text a chunk adds to the log, updating state. Data is kept as sent, whatever its
 * stream (stderr is not marked: a terminal shows both streams the same way). A section
 * marker is GitLab's `ESC[0Ksection_start:<unix seconds>:<name>\rESC[0K`; the line after
 * it is the section's header. A marker always starts a line: when the text so far
 * stops mid-line, a newline goes first.
 */
export function renderChunk(chunk: LogChunk, state: RenderState): string | Buffer {
  if (chunk.kind === 'data') {
    const { data } = chunk;
    if (data.length > 0) state.atLineStart = typeof data === 'string' ? data.endsWith('\n') || data.endsWith(MARKER_END) : bytesEndLine(data);
    return data;
  }
  const seconds = Math.floor((state.baseUnixMs + chunk.atMs) / 1000);
  const name = chunk.kind === 'section_start' ? 'section_start' : 'section_end';
  const newline = state.atLineStart ? '' : '\n';
  state.atLineStart = true;
  return `${newline}${CLEAR}${name}:${seconds}:${sectionName(chunk.section)}${MARKER_END}`;
}

const MARKER_END_BYTES = Buffer.from(MARKER_END, 'utf8');

function bytesEndLine(data: Buffer): boolean {
  if (data[data.length - 1] === 0x0a) return true;
  return data.length >= MARKER_END_BYTES.length && MARKER_END_BYTES.equals(data.subarray(data.length - MARKER_END_BYTES.length));
}

/**
 * The section name as GitLab's parser accepts it. The type says it is one of ours, but
 * it came over the network: a carriage return or an escape in it would forge markers.
 */
function sectionName(section: string): string {
  return section.replace(/[^A-Za-z0-9_.-]/g, '_') || '_';
}
