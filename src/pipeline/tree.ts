/**
 * The positioned tree: a pipeline file as mappings, lists and scalars, each knowing
 * where it was written. Aliases and merge keys are already resolved, so a value reached
 * through `*anchor` or `extends` keeps the position where its text is. Nodes may be
 * shared (an anchor used twice) and are never mutated.
 */

export type TreePosition = { line: number; column: number; offset: number };

export type TreeScalar = {
  kind: 'scalar';
  value: string | number | boolean | null;
  /** The value as text; for numbers and booleans, as written (`1.10` stays `1.10`). */
  text: string;
  pos: TreePosition;
  /**
   * Columns from `pos` to the first character of a string value when the value is written
   * on one line without escapes (0 plain, 1 quoted), so a character offset inside the value
   * maps to a column; otherwise null.
   */
  inlineShift: number | null;
};
export type TreeSeq = { kind: 'seq'; items: TreeNode[]; pos: TreePosition };
export type TreeEntry = { key: string; keyPos: TreePosition; value: TreeNode };
export type TreeMap = { kind: 'map'; entries: Map<string, TreeEntry>; pos: TreePosition };
export type TreeNode = TreeScalar | TreeSeq | TreeMap;

export function nullScalar(pos: TreePosition): TreeScalar {
  return { kind: 'scalar', value: null, text: '', pos, inlineShift: null };
}

/** The plain JavaScript value (objects without prototype, so `__proto__` is just a key). */
export function toPlain(node: TreeNode): unknown {
  switch (node.kind) {
    case 'scalar':
      return node.value;
    case 'seq':
      return node.items.map(toPlain);
    case 'map': {
      const out: Record<string, unknown> = Object.create(null) as Record<string, unknown>;
      for (const [key, entry] of node.entries) out[key] = toPlain(entry.value);
      return out;
    }
  }
}

/** The child at a mapping key or list index, if there is one. */
export function child(node: TreeNode | undefined, step: PropertyKey): TreeNode | undefined {
  if (node?.kind === 'map' && typeof step === 'string') return node.entries.get(step)?.value;
  if (node?.kind === 'seq' && typeof step === 'number') return node.items[step];
  return undefined;
}

export function entry(node: TreeNode | undefined, key: string): TreeEntry | undefined {
  return node?.kind === 'map' ? node.entries.get(key) : undefined;
}

/** The string of a string scalar, else null. */
export function stringOf(node: TreeNode | undefined): string | null {
  return node?.kind === 'scalar' && typeof node.value === 'string' ? node.value : null;
}

/** A scalar as text: strings as they are, numbers and booleans as written, null as ''. */
export function textOf(node: TreeNode | undefined): string {
  return node?.kind === 'scalar' ? node.text : '';
}

const sizes = new WeakMap<TreeNode, { size: number; height: number }>();

/** Values in a node counting shared nodes every time they appear, and its nesting height. */
export function measure(node: TreeNode): { size: number; height: number } {
  const known = sizes.get(node);
  if (known) return known;
  let size = 1;
  let height = 0;
  const children = node.kind === 'seq' ? node.items : node.kind === 'map' ? [...node.entries.values()].map((e) => e.value) : [];
  for (const c of children) {
    const m = measure(c);
    size += m.size;
    height = Math.max(height, m.height);
  }
  const result = { size, height: height + 1 };
  sizes.set(node, result);
  return result;
}

/** Where a character of a string scalar is, when that can be known exactly. */
export function positionInScalar(node: TreeScalar, offset: number): TreePosition {
  if (node.inlineShift === null) return node.pos;
  const shift = node.inlineShift + Math.max(0, Math.min(offset, node.text.length));
  return { line: node.pos.line, column: node.pos.column + shift, offset: node.pos.offset + shift };
}

/** A short description of a value for "must be X, not Y" messages. */
export function describeValue(node: TreeNode): string {
  if (node.kind === 'seq') return 'a list';
  if (node.kind === 'map') return 'a mapping';
  if (node.value === null) return 'empty';
  if (node.value === '') return 'an empty string';
  const text = node.text.length > 40 ? `${node.text.slice(0, 37)}...` : node.text;
  return `\`${text.replace(/\n/g, '\\n')}\``;
}
