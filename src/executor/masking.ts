/**
 * Replacing secret values by `[MASKED]` in a job's output.
 *
 * Values shorter than MIN_MASKED_LENGTH are not masked: masking "a" or "on" would
 * shred the whole log while protecting nothing worth protecting. Overlapping
 * occurrences of two values are merged into one `[MASKED]`, so no fragment of
 * either leaks.
 */

export const MIN_MASKED_LENGTH = 4;
const MASK = '[MASKED]';

type Interval = { start: number; end: number };

export class Masker {
  /** The values masked, longest first. */
  readonly values: readonly string[];
  /** How many of the given values were too short to mask. */
  readonly tooShort: number;

  constructor(values: readonly string[]) {
    const unique = [...new Set(values.filter((value) => value.length > 0))];
    this.values = unique.filter((value) => value.length >= MIN_MASKED_LENGTH).sort((a, b) => b.length - a.length);
    this.tooShort = unique.length - this.values.length;
  }

  /** Masks every complete occurrence in text. */
  mask(text: string): string {
    return this.values.length === 0 ? text : masked(text, this.occurrences(text));
  }

  /**
   * Splits text read so far from a stream into what can be emitted now (masked) and a
   * tail to keep until more text arrives: the longest suffix that could be the start
   * of a masked value (or of one of `alsoHold`, e.g. a marker the caller looks for).
   */
  split(text: string, alsoHold: readonly string[] = []): { ready: string; rest: string } {
    let cut = text.length - Math.max(longestPartialSuffix(text, this.values), longestPartialSuffix(text, alsoHold));
    // A complete occurrence that straddles the cut moves the cut to its start, so it
    // is masked whole next time rather than leaking its first half now.
    const intervals = this.occurrences(text);
    for (const { start, end } of intervals) {
      if (start < cut && cut < end) cut = start;
    }
    // No occurrence straddles the cut now: those before it are the ready text's own.
    const ready = masked(text.slice(0, cut), intervals.filter(({ end }) => end <= cut));
    return { ready, rest: text.slice(cut) };
  }

  /** Merged, sorted intervals of every occurrence of every value (overlaps included). */
  private occurrences(text: string): Interval[] {
    const found: Interval[] = [];
    for (const value of this.values) {
      for (let at = text.indexOf(value); at !== -1; at = text.indexOf(value, at + 1)) {
        found.push({ start: at, end: at + value.length });
      }
    }
    found.sort((a, b) => a.start - b.start);
    const merged: Interval[] = [];
    for (const interval of found) {
      const last = merged[merged.length - 1];
      if (last !== undefined && interval.start <= last.end) last.end = Math.max(last.end, interval.end);
      else merged.push({ ...interval });
    }
    return merged;
  }
}

/** text with every interval replaced by MASK; intervals are sorted and disjoint. */
function masked(text: string, intervals: readonly Interval[]): string {
  let out = '';
  let at = 0;
  for (const { start, end } of intervals) {
    out += text.slice(at, start) + MASK;
    at = end;
  }
  return out + text.slice(at);
}

/** The length of the longest suffix of text that is a proper prefix of one of values. */
function longestPartialSuffix(text: string, values: readonly string[]): number {
  let longest = 0;
  for (const value of values) {
    const first = value[0];
    if (first === undefined) continue;
    const from = Math.max(0, text.length - (value.length - 1));
    // The earliest candidate position gives the longest suffix, so stop at the first hit.
    for (let at = text.indexOf(first, from); at !== -1; at = text.indexOf(first, at + 1)) {
      if (text.length - at <= longest) break;
      if (value.startsWith(text.slice(at))) {
        longest = text.length - at;
        break;
      }
    }
  }
  return longest;
}
