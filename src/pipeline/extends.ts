/**
 * `extends:` as GitLab does it: a job inherits the keys of the jobs or hidden templates it
 * names, in order, then its own keys win. Mappings merge deeply; lists and scalars are
 * replaced. Works on the positioned tree, so an inherited value keeps the position of its
 * text in the template, which is where an error about it points.
 */
import type { DiagnosticList } from './diagnostics.js';
import { limits } from './limits.js';
import { didYouMean } from './suggest.js';
import type { TreeEntry, TreeMap, TreeNode, TreePosition } from './tree.js';

/** A top-level job or template as written. */
export type JobSource = { name: string; keyPos: TreePosition; value: TreeNode };

/** A job with its `extends` applied; `complete` is false when some template was missing. */
export type ResolvedJob = { map: TreeMap; complete: boolean };

export class ExtendsResolver {
  private readonly sources: ReadonlyMap<string, JobSource>;
  private readonly diags: DiagnosticList;
  private readonly resolved = new Map<string, ResolvedJob>();

  constructor(sources: ReadonlyMap<string, JobSource>, diags: DiagnosticList) {
    this.sources = sources;
    this.diags = diags;
  }

  /** The merged mapping of a job whose value is a mapping. */
  resolve(name: string, map: TreeMap): ResolvedJob {
    return this.resolveChain(name, map, []);
  }

  private resolveChain(name: string, own: TreeMap, chain: readonly string[]): ResolvedJob {
    const known = this.resolved.get(name);
    if (known) return known;
    const extendsEntry = own.entries.get('extends');
    if (extendsEntry === undefined) {
      const result = { map: own, complete: true };
      this.resolved.set(name, result);
      return result;
    }
    const withoutExtends: TreeMap = { ...own, entries: new Map([...own.entries].filter(([key]) => key !== 'extends')) };
    const path = [...chain, name];
    const targets = this.targets(extendsEntry);
    let complete = targets.length > 0;
    let base: TreeMap | null = null;
    for (const target of targets) {
      const parent = this.parent(target, path);
      if (parent === null) {
        complete = false;
        continue;
      }
      complete &&= parent.complete;
      base = base === null ? parent.map : deepMerge(base, parent.map);
    }
    const result = { map: base === null ? withoutExtends : deepMerge(base, withoutExtends), complete };
    this.resolved.set(name, result);
    return result;
  }

  private parent(target: { name: string; pos: TreePosition }, path: readonly string[]): ResolvedJob | null {
    const source = this.sources.get(target.name);
    if (source === undefined) {
      this.diags.add(target.pos, `\`extends\` names \`${target.name}\`, which is not defined in this file${didYouMean(target.name, this.sources.keys())}`);
      return null;
    }
    const cycleStart = path.indexOf(target.name);
    if (cycleStart !== -1) {
      const cycle = [...path.slice(cycleStart), target.name].join(' -> ');
      this.diags.add(target.pos, `\`extends\` cycle: ${cycle}; a job cannot inherit from itself`);
      return null;
    }
    if (path.length > limits.extendsDepth) {
      this.diags.add(target.pos, `\`extends\` chains may be at most ${limits.extendsDepth} levels deep: ${[...path, target.name].join(' -> ')}`);
      return null;
    }
    if (source.value.kind !== 'map') {
      this.diags.add(target.pos, `\`extends\` names \`${target.name}\`, which is not a mapping of job keys`);
      return null;
    }
    return this.resolveChain(target.name, source.value, path);
  }

  private targets(extendsEntry: TreeEntry): Array<{ name: string; pos: TreePosition }> {
    const value = extendsEntry.value;
    const items = value.kind === 'seq' ? value.items : [value];
    const targets: Array<{ name: string; pos: TreePosition }> = [];
    for (const item of items) {
      if (item.kind === 'scalar' && typeof item.value === 'string' && item.value !== '') targets.push({ name: item.value, pos: item.pos });
      else this.diags.add(item.pos, '`extends` must be a job name or a list of job names, like `extends: .base`');
    }
    return targets;
  }
}

/** `over` merged onto `base`: mappings merge key by key, anything else is replaced. */
function deepMerge(base: TreeMap, over: TreeMap): TreeMap {
  const entries = new Map(base.entries);
  for (const [key, entry] of over.entries) {
    const previous = entries.get(key);
    if (previous?.value.kind === 'map' && entry.value.kind === 'map') {
      entries.set(key, { ...entry, value: deepMerge(previous.value, entry.value) });
    } else {
      entries.set(key, entry);
    }
  }
  return { kind: 'map', entries, pos: over.pos };
}
