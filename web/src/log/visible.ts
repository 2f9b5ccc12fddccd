import type { Fold, LogDocument } from './document.js';
import { lastAtOrBefore } from './sorted.js';

/**
 * The lines shown when some folds are closed, as a Uint32Array of line numbers; null
 * when every fold is open (then shown line k is line k).
 */
export function visibleLines(doc: LogDocument, closed: ReadonlySet<number>): Uint32Array | null {
  const shown = doc.shownLines;
  const hidden: Array<[number, number]> = [];
  for (const index of closed) {
    const fold: Fold | undefined = doc.folds[index];
    if (fold === undefined) continue;
    const last = fold.last ?? shown - 1;
    if (last > fold.header) hidden.push([fold.header + 1, last]);
  }
  if (hidden.length === 0) return null;
  hidden.sort((a, b) => a[0] - b[0]);
  const out = new Uint32Array(shown);
  let n = 0;
  let line = 0;
  for (const [from, to] of hidden) {
    for (; line < from && line < shown; line += 1) out[n++] = line;
    line = Math.max(line, to + 1);
  }
  for (; line < shown; line += 1) out[n++] = line;
  return out.subarray(0, n);
}

/** Where line sits in the shown lines (the nearest shown line before it when it is folded away). */
export function shownIndex(visible: Uint32Array | null, line: number): number {
  return visible === null ? line : lastAtOrBefore(visible, line);
}

/** The folds that hide line: opening them shows it. */
export function foldsHiding(doc: LogDocument, closed: ReadonlySet<number>, line: number): number[] {
  return [...closed].filter((index) => {
    const fold = doc.folds[index];
    return fold !== undefined && line > fold.header && line <= (fold.last ?? Infinity);
  });
}
