import { plainText } from './ansi.js';
import type { LogDocument } from './document.js';

/** Matching lines kept at most: the count says "100000+" beyond, and next/prev stay within. */
export const MAX_MATCHED_LINES = 100_000;

export type SearchResult = { query: string; lines: Uint32Array; total: number; capped: boolean };

let lowered: { version: number; length: number; text: string } | null = null;

function lowerText(doc: LogDocument): string {
  if (lowered === null || lowered.version !== doc.version || lowered.length !== doc.text.length) {
    lowered = { version: doc.version, length: doc.text.length, text: doc.text.toLowerCase() };
  }
  return lowered.text;
}

function count(haystack: string, needle: string): number {
  let n = 0;
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + needle.length)) n += 1;
  return n;
}

/**
 * Every line whose visible text holds the query (case-insensitive), over the whole log.
 * The raw text is searched first (one native indexOf pass), then each candidate line is
 * checked without its escape sequences: "32m" does not match a colour code.
 */
export function searchLog(doc: LogDocument, query: string): SearchResult {
  const needle = query.toLowerCase();
  const found: number[] = [];
  let total = 0;
  if (needle === '') return { query, lines: new Uint32Array(0), total: 0, capped: false };
  const text = lowerText(doc);
  const lines = doc.lines;
  const check = (line: number) => {
    const n = count(plainText(doc.line(line)).toLowerCase(), needle);
    if (n === 0) return;
    found.push(line);
    total += n;
  };
  if (text.length !== doc.text.length) {
    // Lower-casing changed lengths (rare scripts): positions don't map, check line by line.
    for (let line = 0; line < lines && found.length < MAX_MATCHED_LINES; line += 1) check(line);
  } else {
    for (let at = text.indexOf(needle); at >= 0 && found.length < MAX_MATCHED_LINES; ) {
      const line = doc.lineAt(at);
      check(line);
      if (line + 1 >= lines) break;
      at = text.indexOf(needle, doc.lineStart(line + 1));
    }
  }
  return { query, lines: Uint32Array.from(found), total, capped: found.length >= MAX_MATCHED_LINES };
}
