export function labelSet(labels: readonly string[]): ReadonlySet<string> {
  return new Set(labels);
}

/** One string per distinct label set, whatever the order or repetition of the labels. */
export function labelKey(labels: ReadonlySet<string>): string {
  return JSON.stringify([...labels].sort());
}

/** Whether `have` includes every label of `need`. */
export function hasAll(have: ReadonlySet<string>, need: ReadonlySet<string>): boolean {
  if (need.size > have.size) return false;
  for (const label of need) if (!have.has(label)) return false;
  return true;
}
