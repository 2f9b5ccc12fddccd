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

export async function collectPaths(
  root: string,
  patterns: readonly string[],
  exclude: readonly string[],
): Promise<Collected> {
  const warnings: string[] = [];
  const excludeGlobs = exclude.map(normalizePattern).filter((pattern): pattern is string => pattern !== null);
  const isExcludedGlob = excludeGlobs.length > 0 ? picomatch(excludeGlobs, { dot: true }) : () => false;
  const excluded = (rel: string): boolean => ancestorsAndSelf(rel).some((path) => isExcludedGlob(path));
  const found = new Map<string, 'dir' | 'file'>();

  const addTree = async (rel: string): Promise<void> => {
    if (found.has(rel) || excluded(rel)) return;
    const stats = await lstat(join(root, rel));
    if (stats.isSymbolicLink()) {
      const target = await readlink(join(root, rel));
      const problem = linkTargetProblem(rel.split('/').length - 1, target);
      if (problem === null) found.set(rel, 'file');
      else warnings.push(`skipped '${rel}': ${problem}`);
    } else if (stats.isDirectory()) {
      found.set(rel, 'dir');
      for (const child of await readdir(join(root, rel))) await addTree(`${rel}/${child}`);
    } else if (stats.isFile()) {
      found.set(rel, 'file');
    } else {
      warnings.push(`skipped '${rel}': not a file, directory or symbolic link`);
    }
  };

  const walk = async (dir: string, matches: (rel: string) => boolean): Promise<void> => {
    const children = await readdir(dir === '' ? root : join(root, dir), { withFileTypes: true });
    for (const child of children) {
      const rel = dir === '' ? child.name : `${dir}/${child.name}`;
      if (child.isDirectory() && child.name === '.git') continue;
      if (matches(rel)) await addTree(rel);
      else if (child.isDirectory()) await walk(rel, matches);
    }
  };

  for (const original of patterns) {
    const pattern = normalizePattern(original);
    if (pattern === null) {
      warnings.push(`ignored the path '${original}': it is outside the project directory`);
      continue;
    }
    const scan = picomatch.scan(pattern);
    const base = scan.isGlob ? scan.base : pattern;
    // The way to the base must be real directories, or a link would let a pattern
    // collect files from outside the project directory. A literal path may itself
    // be a link: it is then collected as a link.
    const way = await wayTo(root, base, scan.isGlob ? 'directory' : 'anything');
    if (way === 'link') warnings.push(`ignored the path '${original}': it goes through a symbolic link`);
    if (way !== 'ok') continue;
    if (scan.isGlob) await walk(base, picomatch(pattern, { dot: true }));
    else await addTree(pattern);
  }

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
  const segments = rel.split('/');
  return segments.map((_, index) => segments.slice(0, index + 1).join('/'));
}

/**
 * Whether rel can be reached from root through real directories only, and is
 * itself a real directory (or, for 'anything', exists at all).
 */
async function wayTo(root: string, rel: string, last: 'directory' | 'anything'): Promise<'ok' | 'missing' | 'link'> {
  if (rel === '') return 'ok';
  const chain = ancestorsAndSelf(rel);
  for (const [index, path] of chain.entries()) {
    const stats = await lstat(join(root, path)).catch(() => null);
    if (stats === null) return 'missing';
    if (index === chain.length - 1 && last === 'anything') return 'ok';
    if (stats.isSymbolicLink()) return 'link';
    if (!stats.isDirectory()) return 'missing';
  }
  return 'ok';
}
