import type { Dirent, Stats } from 'node:fs';
import { lstat, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import picomatch from 'picomatch';
import { linkTargetProblem } from '../archive/index.js';

/**
 * Finding the files artifact and cache `paths:` name, relative to the project
 * directory. A path without glob characters names a file or a directory (everything
 * under it); a glob (picomatch, `dot: true`: `*` stays inside one directory, `**`
 * crosses them) matches files and directories, and a matched directory brings
 * everything under it. `exclude:` globs remove what they match, and everything under
 * a directory they match. Globs do not descend into `.git` directories or through
 * symbolic links; links are collected as links when they point inside the project
 * directory, and skipped with a warning otherwise.
 */

export type Collected = {
  /** Paths relative to the root, parents before children: directories, files, links. */
  entries: string[];
  /** How many of the entries are files or symbolic links. */
  files: number;
  warnings: string[];
};

/** What a directory entry is, as lstat or readdir (which has it for free) tell. */
type Kind = Pick<Stats | Dirent, 'isDirectory' | 'isFile' | 'isSymbolicLink'>;

export async function collectPaths(
  root: string,
  patterns: readonly string[],
  exclude: readonly string[],
): Promise<Collected> {
  const warnings: string[] = [];
  const excludeGlobs = exclude.map(normalizePattern).filter((pattern): pattern is string => pattern !== null);
  const isExcluded = excludeGlobs.length > 0 ? picomatch(excludeGlobs, { dot: true }) : () => false;
  const found = new Map<string, 'dir' | 'file'>();

  /** The entries of a directory that no exclusion matches; rel's own ancestors are checked already. */
  const children = async (rel: string): Promise<Array<{ rel: string; name: string; kind: Kind }>> => {
    const entries = await readdir(rel === '' ? root : join(root, rel), { withFileTypes: true });
    return entries
      .map((entry) => ({ rel: rel === '' ? entry.name : `${rel}/${entry.name}`, name: entry.name, kind: entry }))
      .filter((child) => !isExcluded(child.rel));
  };

  /** Adds rel and everything under it; neither rel nor an ancestor of it is excluded. */
  const addTree = async (rel: string, kind: Kind): Promise<void> => {
    if (found.has(rel)) return;
    if (kind.isSymbolicLink()) {
      const problem = linkTargetProblem(rel.split('/').length - 1, await readlink(join(root, rel)));
      if (problem === null) found.set(rel, 'file');
      else warnings.push(`skipped '${rel}': ${problem}`);
    } else if (kind.isDirectory()) {
      found.set(rel, 'dir');
      for (const child of await children(rel)) await addTree(child.rel, child.kind);
    } else if (kind.isFile()) {
      found.set(rel, 'file');
    } else {
      warnings.push(`skipped '${rel}': not a file, directory or symbolic link`);
    }
  };

  const walk = async (dir: string, matches: (rel: string) => boolean): Promise<void> => {
    for (const child of await children(dir)) {
      if (child.name === '.git' && child.kind.isDirectory()) continue;
      if (matches(child.rel)) await addTree(child.rel, child.kind);
      else if (child.kind.isDirectory()) await walk(child.rel, matches);
    }
  };

  // Globs with the same base share one walk: `**/*.xml` and `**/*.html` read the tree once.
  const globsByBase = new Map<string, string[]>();
  for (const original of patterns) {
    const pattern = normalizePattern(original);
    if (pattern === null) {
      warnings.push(`ignored the path '${original}': it is outside the project directory`);
      continue;
    }
    const scan = picomatch.scan(pattern);
    const base = scan.isGlob ? scan.base : pattern;
    const sameBase = globsByBase.get(base);
    if (scan.isGlob && sameBase !== undefined) {
      sameBase.push(pattern);
      continue;
    }
    // The way to the base must be real directories, or a link would let a pattern
    // collect files from outside the project directory. A literal path may itself
    // be a link: it is then collected as a link.
    const reached = await reach(root, base);
    if (reached === 'missing') continue;
    if (reached === 'link' || (scan.isGlob && reached.isSymbolicLink())) {
      warnings.push(`ignored the path '${original}': it goes through a symbolic link`);
      continue;
    }
    if (ancestorsAndSelf(base).some((path) => isExcluded(path))) continue;
    if (!scan.isGlob) await addTree(pattern, reached);
    else if (reached.isDirectory()) globsByBase.set(base, [pattern]);
  }
  for (const [base, globs] of globsByBase) await walk(base, picomatch(globs, { dot: true }));

  const entries = [...found.keys()].sort();
  return { entries, files: entries.filter((entry) => found.get(entry) === 'file').length, warnings };
}

/** './dist/' → 'dist'; '' or '.' → '**'; null for a path that leaves the root. */
export function normalizePattern(pattern: string): string | null {
  let normalized = pattern.trim().replaceAll('\\', '/');
  while (normalized.startsWith('./')) normalized = normalized.slice(2);
  normalized = normalized.replace(/\/+$/, '');
  if (normalized === '' || normalized === '.') return '**';
  if (normalized.startsWith('/') || normalized.split('/').includes('..')) return null;
  return normalized;
}

function ancestorsAndSelf(rel: string): string[] {
  if (rel === '') return [];
  const segments = rel.split('/');
  return segments.map((_, index) => segments.slice(0, index + 1).join('/'));
}

/**
 * rel's own lstat when it can be reached from root through real directories only;
 * 'link' when the way goes through a symbolic link, 'missing' when it is not there.
 */
async function reach(root: string, rel: string): Promise<Kind | 'missing' | 'link'> {
  let stats: Stats | null = null;
  for (const path of ancestorsAndSelf(rel)) {
    if (stats !== null && stats.isSymbolicLink()) return 'link';
    if (stats !== null && !stats.isDirectory()) return 'missing';
    stats = await lstat(join(root, path)).catch(() => null);
    if (stats === null) return 'missing';
  }
  return stats ?? ROOT;
}

/** The root itself (''): where every way starts, a directory however it was reached. */
const ROOT: Kind = { isDirectory: () => true, isFile: () => false, isSymbolicLink: () => false };
