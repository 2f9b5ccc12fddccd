/**
 * `parallel: N` and `parallel: matrix:` expansion. `parallel: 3` makes `test 1/3`,
 * `test 2/3`, `test 3/3`; a matrix makes one job per combination, named with its values in
 * the order the keys are written: `test: [node=20, db=pg]`. Each mapping of the matrix list
 * adds the cartesian product of its values.
 */
import { limits } from './limits.js';
import { textOf, type TreeNode } from './tree.js';

export type JobInstance = {
  name: string;
  /** Matrix variables in the order written, or null. */
  matrix: Array<[string, string]> | null;
  parallel: { index: number; total: number } | null;
};

/** Matrix values a `needs: parallel: matrix:` selects: any entry whose keys all match. */
export type MatrixFilter = Array<Record<string, string[]>>;

export type Expansion =
  | { kind: 'ok'; instances: JobInstance[] }
  | { kind: 'too-many'; count: number }
  | { kind: 'invalid' };

/** The jobs one definition expands to; `invalid` when `parallel` is malformed (schema reports it). */
export function expand(name: string, parallel: TreeNode | undefined): Expansion {
  if (parallel === undefined) return { kind: 'ok', instances: [{ name, matrix: null, parallel: null }] };
  if (parallel.kind === 'scalar') {
    const total = parallel.value;
    if (typeof total !== 'number' || !Number.isInteger(total) || total < 2 || total > limits.jobsPerParallel) return { kind: 'invalid' };
    const instances = Array.from({ length: total }, (_, i) => ({ name: `${name} ${i + 1}/${total}`, matrix: null, parallel: { index: i + 1, total } }));
    return { kind: 'ok', instances };
  }
  const entries = matrixEntries(parallel.kind === 'map' ? parallel.entries.get('matrix')?.value : undefined);
  if (entries === null) return { kind: 'invalid' };
  let count = 0;
  for (const entry of entries) count += entry.reduce((product, [, values]) => Math.min(product * values.length, Number.MAX_SAFE_INTEGER), 1);
  if (count > limits.jobsPerParallel) return { kind: 'too-many', count };
  const instances: JobInstance[] = [];
  for (const entry of entries) {
    for (const combination of product(entry)) {
      const label = combination.map(([key, value]) => `${key}=${value}`).join(', ');
      instances.push({ name: `${name}: [${label}]`, matrix: combination, parallel: null });
    }
  }
  return { kind: 'ok', instances };
}

/** Each matrix mapping as [key, values] pairs, or null when the shape is wrong. */
function matrixEntries(node: TreeNode | undefined): Array<Array<[string, string[]]>> | null {
  if (node?.kind !== 'seq' || node.items.length === 0) return null;
  const entries: Array<Array<[string, string[]]>> = [];
  for (const item of node.items) {
    if (item.kind !== 'map' || item.entries.size === 0) return null;
    const pairs: Array<[string, string[]]> = [];
    for (const [key, { value }] of item.entries) {
      const values = value.kind === 'seq' ? value.items : [value];
      if (values.length === 0 || values.some((v) => v.kind !== 'scalar' || v.value === null)) return null;
      pairs.push([key, values.map(textOf)]);
    }
    entries.push(pairs);
  }
  return entries;
}

function* product(pairs: Array<[string, string[]]>, prefix: Array<[string, string]> = []): Generator<Array<[string, string]>> {
  const [first, ...rest] = pairs;
  if (first === undefined) {
    yield prefix;
    return;
  }
  for (const value of first[1]) yield* product(rest, [...prefix, [first[0], value]]);
}

export function matchesFilter(instance: JobInstance, filter: MatrixFilter): boolean {
  if (instance.matrix === null) return false;
  const values = new Map(instance.matrix);
  return filter.some((entry) => Object.entries(entry).every(([key, allowed]) => allowed.includes(values.get(key) ?? '\0')));
}

/** A `needs: parallel: matrix:` node as a filter, or null when malformed. */
export function filterOf(node: TreeNode | undefined): MatrixFilter | null {
  const entries = matrixEntries(node);
  return entries === null ? null : entries.map((pairs) => Object.fromEntries(pairs));
}
