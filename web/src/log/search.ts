import { ESCAPES, plainText } from './ansi.js';
import type { LogDocument } from './document.js';
import { lastAtOrBefore } from './sorted.js';

/** Matching lines kept at most: the count says "100000+" beyond, and next/prev stay within. */
const MAX_MATCHED_LINES = 100_000;

export type SearchResult = { query: string; lines: Uint32Array; total: number; capped: boolean };

/**
 * The log as searched: without escape sequences ("red text" written in two colours is
 * one match), lower-cased, with where each line starts in it and in the log. Built as
 * the log grows, whole lines at a time: a live log is not stripped again on each search.
 */
type Plain = { text: string; starts: number[]; rawStarts: number[]; rawDone: number };

const cache = new WeakMap<LogDocument, Plain>();

function strip(text: string): string {
  const stripped = text.includes('\u001b') || text.includes('\u009b') ? text.replace(ESCAPES, '') : text;
  const lower = stripped.toLowerCase();
  // Lower-casing changes lengths in a few scripts: then that part is searched as written.
  return lower.length === stripped.length ? lower : stripped;
}

function plainOf(doc: LogDocument): { text: string; starts: number[]; rawStarts: number[] } {
  let plain = cache.get(doc);
  if (plain === undefined) {
    plain = { text: '', starts: [0], rawStarts: [0], rawDone: 0 };
    cache.set(doc, plain);
  }
  const raw = doc.text;
  const end = raw.lastIndexOf('\n') + 1;
  if (end > plain.rawDone) {
    for (let at = raw.indexOf('\n', plain.rawDone); at >= 0 && at < end; at = raw.indexOf('\n', at + 1)) plain.rawStarts.push(at + 1);
    const chunk = strip(raw.slice(plain.rawDone, end));
    const base = plain.text.length;
    for (let at = chunk.indexOf('\n'); at >= 0; at = chunk.indexOf('\n', at + 1)) plain.starts.push(base + at + 1);
    plain.text += chunk;
    plain.rawDone = end;
  }
  // The last line may still grow: it is stripped on each search, and kept out of the cache.
  return { text: plain.text + strip(raw.slice(end)), starts: plain.starts, rawStarts: plain.rawStarts };
}

function count(haystack: string, needle: string): number {
  let n = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + needle.length)) n += 1;
  return n;
}

/**
 * Every line whose visible text holds the query (case-insensitive), over the whole log:
 * one native indexOf pass over the plain text, then each line it hits is checked as shown.
 */
export function searchLog(doc: LogDocument, query: string): SearchResult {
  const needle = query.toLowerCase();
  const found: number[] = [];
  let total = 0;
  if (needle === '') return { query, lines: new Uint32Array(0), total: 0, capped: false };
  const plain = plainOf(doc);
  for (let at = plain.text.indexOf(needle); at >= 0 && found.length < MAX_MATCHED_LINES; ) {
    const k = lastAtOrBefore(plain.starts, at);
    // A line of the log may show as more than one (a section header is a row of its own).
    const first = doc.lineAt(plain.rawStarts[k] ?? 0);
    const next = plain.rawStarts[k + 1];
    const last = next === undefined ? doc.lines - 1 : doc.lineAt(next) - 1;
    for (let line = first; line <= Math.max(first, last); line += 1) {
      const n = count(plainText(doc.line(line)).toLowerCase(), needle);
      if (n === 0) continue;
      found.push(line);
      total += n;
    }
    const following = plain.starts[k + 1];
    if (following === undefined) break;
    at = plain.text.indexOf(needle, following);
  }
  return { query, lines: Uint32Array.from(found), total, capped: found.length >= MAX_MATCHED_LINES };
}
