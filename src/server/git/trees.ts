import type { CatFileBatch } from '../../git/index.js';

/**
 * Paths of commits read from their tree objects through a repository's object reader:
 * what `git ls-tree -r --name-only` and `git diff --name-only --no-renames` say, without
 * a process each. Subtrees are asked for all at once (the reader pipelines them).
 * Submodules (gitlinks) are paths, never descended into, as git does. Null when an
 * object is missing (a partial mirror): the caller asks git itself then.
 */

type Entry = { name: string; sha: string; mode: string; isTree: boolean };

const TREE_MODE = '40000';

/** The entries of a tree object, in its order. */
function parseTree(content: Buffer, hashBytes: number): Entry[] {
  const entries: Entry[] = [];
  for (let at = 0; at < content.length; ) {
    const space = content.indexOf(0x20, at);
    const nul = content.indexOf(0x00, space + 1);
    if (space < 0 || nul < 0 || nul + 1 + hashBytes > content.length) throw new Error('a tree object is malformed');
    const mode = content.toString('latin1', at, space);
    entries.push({ mode, name: content.toString('utf8', space + 1, nul), sha: content.toString('hex', nul + 1, nul + 1 + hashBytes), isTree: mode === TREE_MODE });
    at = nul + 1 + hashBytes;
  }
  return entries;
}

class Missing extends Error {}

async function entriesOf(objects: CatFileBatch, tree: string): Promise<Entry[]> {
  const object = await objects.contents(tree);
  if (object === null || object.info.type !== 'tree') throw new Missing(tree);
  // The object's own name tells the hash length: 40 hex digits (SHA-1) or 64 (SHA-256).
  return parseTree(object.content, object.info.sha.length / 2);
}

async function walk(objects: CatFileBatch, tree: string, prefix: string): Promise<string[]> {
  const entries = await entriesOf(objects, tree);
  const parts = await Promise.all(entries.map((entry) => (entry.isTree ? walk(objects, entry.sha, `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`])));
  return parts.flat();
}

/** Every file path (and submodule) of a commit; null when an object is missing. */
export async function listTreePaths(objects: CatFileBatch, commit: string): Promise<string[] | null> {
  try {
    return await walk(objects, `${commit}^{tree}`, '');
  } catch (error) {
    if (error instanceof Missing) return null;
    throw error;
  }
}

async function diff(objects: CatFileBatch, before: string, after: string, prefix: string): Promise<string[]> {
  const [old, current] = await Promise.all([entriesOf(objects, before), entriesOf(objects, after)]);
  const byName = new Map(old.map((entry) => [entry.name, entry]));
  const pending: Array<Promise<string[]> | string[]> = [];
  const all = (entry: Entry): Promise<string[]> | string[] => (entry.isTree ? walk(objects, entry.sha, `${prefix}${entry.name}/`) : [`${prefix}${entry.name}`]);
  for (const entry of current) {
    const was = byName.get(entry.name);
    byName.delete(entry.name);
    if (was === undefined) pending.push(all(entry));
    else if (was.sha === entry.sha && was.mode === entry.mode) continue;
    else if (was.isTree && entry.isTree) pending.push(diff(objects, was.sha, entry.sha, `${prefix}${entry.name}/`));
    else pending.push(all(was), all(entry));
  }
  for (const was of byName.values()) pending.push(all(was));
  return (await Promise.all(pending)).flat();
}

/** The paths that differ between two commits, each once, in git's order; null when an object is missing. */
export async function changedTreePaths(objects: CatFileBatch, before: string, after: string): Promise<string[] | null> {
  try {
    const paths = await diff(objects, `${before}^{tree}`, `${after}^{tree}`, '');
    return [...new Set(paths)].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  } catch (error) {
    if (error instanceof Missing) return null;
    throw error;
  }
}
