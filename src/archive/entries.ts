/**
 * The rules for one archive entry: what may be extracted, and how entry paths are
 * compared. Shared by inspection (which refuses a whole archive for one bad entry),
 * extraction, listing and reading one entry, and by the executor's collection of
 * symbolic links before packing.
 */

export type EntryLike = { path: string; type: string; linkpath?: string | undefined };

export const FILE_TYPES: ReadonlySet<string> = new Set(['File', 'OldFile', 'ContiguousFile']);
export const ALLOWED_TYPES: ReadonlySet<string> = new Set([...FILE_TYPES, 'Directory', 'SymbolicLink']);

/**
 * Why an entry may not be extracted, or null when it may. symlinks holds the
 * normalized paths of the symbolic links seen earlier in the same archive.
 */
export function entryProblem(entry: EntryLike, symlinks: ReadonlySet<string>): string | null {
  const raw = entry.path;
  if (raw.includes('\0')) return 'its path contains a NUL byte';
  if (isAbsolute(raw)) return 'its path is absolute';
  const segments = segmentsOf(raw);
  if (segments.includes('..')) return "its path contains a '..' segment";
  if (entry.type === 'Link') return 'it is a hard link';
  if (entry.type === 'CharacterDevice' || entry.type === 'BlockDevice') return 'it is a device file';
  if (entry.type === 'FIFO') return 'it is a FIFO';
  if (!ALLOWED_TYPES.has(entry.type)) return `its type (${entry.type}) is not supported`;
  for (let depth = 1; depth < segments.length; depth += 1) {
    const parent = segments.slice(0, depth).join('/');
    if (symlinks.has(parent)) return `it would be written through the symbolic link '${parent}'`;
  }
  if (entry.type !== 'SymbolicLink') return null;
  if (segments.length === 0) return 'a symbolic link cannot replace the extraction directory';
  return linkTargetProblem(segments.length - 1, entry.linkpath ?? '');
}

/**
 * Why a symbolic link at the given depth (0: directly in the root) with this target
 * must not exist, or null. A target is `..` segments first, then names only: after a
 * name, `..` would climb from wherever that name points, which lexical checks cannot
 * follow (`a/x -> ../s/..` with `s -> .` escapes).
 */
export function linkTargetProblem(depth: number, target: string): string | null {
  if (target === '') return 'it is a symbolic link with an empty target';
  if (target.includes('\0')) return 'its link target contains a NUL byte';
  if (isAbsolute(target)) return `it is a symbolic link to the absolute path '${target}'`;
  const segments = segmentsOf(target);
  const ups = segments.findIndex((segment) => segment !== '..');
  const leading = ups === -1 ? segments.length : ups;
  if (segments.slice(leading).includes('..')) return `its link target '${target}' has '..' after a name`;
  if (leading > depth) return `it is a symbolic link to '${target}', outside the extraction directory`;
  return null;
}

function isAbsolute(path: string): boolean {
  return path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path);
}

function segmentsOf(path: string): string[] {
  return path.split(/[\\/]/).filter((segment) => segment !== '' && segment !== '.');
}

/** An entry path without `.` segments, empty segments or a trailing slash: `./a//b/` → `a/b`. */
export function normalized(path: string): string {
  return segmentsOf(path).join('/');
}

/** An entry path as it can be shown in one log line. */
export function printable(path: string): string {
  return path.replaceAll('\0', '\\0').replaceAll('\n', '\\n');
}
