import { mkdir, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import * as tar from 'tar';
import { SlipwayError, messageOf } from '../errors/index.js';

/**
 * Artifact and cache archives: gzip'd tar files, written with node-tar and read back
 * only after every entry has been checked. An archive is untrusted input (the server
 * will apply the same checks to uploads): nothing in it may land outside the
 * directory it is extracted into.
 *
 * Accepted entries: files, directories, and symbolic links whose target is relative
 * and stays inside the root (node_modules/.bin needs them). Rejected, with the whole
 * archive: absolute paths, `..` segments, NUL bytes, hard links, devices, FIFOs,
 * symbolic links pointing outside, and entries written through a symbolic link of the
 * same archive. Extraction itself (node-tar, not following links) also refuses to
 * write through a symbolic link already present in the destination.
 */

type EntryLike = { path: string; type: string; linkpath?: string | undefined };

const FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);
const ALLOWED_TYPES = new Set([...FILE_TYPES, 'Directory', 'SymbolicLink']);

/**
 * node-tar stores a file with several names as a hard link to the first; hard links
 * are what extraction refuses, so packing never remembers a file it has seen.
 */
class NoHardLinks extends Map<`${number}:${number}`, string> {
  override get(): undefined {
    return undefined;
  }
  override set(): this {
    return this;
  }
}

/**
 * Packs entries (paths relative to root: files, symbolic links, directories, each
 * listed explicitly; directories are not descended into) into a tar.gz at file.
 * File modes are kept; owners and times other than mtime are not (portable).
 */
export async function packArchive(root: string, entries: readonly string[], file: string): Promise<{ sizeBytes: number }> {
  // node-tar reads a name starting with '@' as "add the entries of that archive".
  const names = entries.map((entry) => (entry.startsWith('@') ? `./${entry}` : entry));
  try {
    await mkdir(dirname(file), { recursive: true });
    await tar.c({ gzip: true, portable: true, cwd: root, file, noDirRecurse: true, linkCache: new NoHardLinks() }, names);
    return { sizeBytes: (await stat(file)).size };
  } catch (error) {
    throw new SlipwayError('ARCHIVE_INVALID', `could not write the archive ${file}: ${messageOf(error)}`, { cause: error });
  }
}

/**
 * Why an entry may not be extracted, or null when it may. symlinks holds the
 * normalized paths of the symbolic links seen earlier in the same archive.
 */
export function entryProblem(entry: EntryLike, symlinks: ReadonlySet<string>): string | null {
  const raw = entry.path;
  if (raw.includes('\0')) return 'its path contains a NUL byte';
  if (isAbsolute(raw)) return 'its path is absolute';
  const segments = raw.split(/[\\/]/).filter((segment) => segment !== '' && segment !== '.');
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
  const segments = target.split(/[\\/]/).filter((segment) => segment !== '' && segment !== '.');
  const ups = segments.findIndex((segment) => segment !== '..');
  const leading = ups === -1 ? segments.length : ups;
  if (segments.slice(leading).includes('..')) return `its link target '${target}' has '..' after a name`;
  if (leading > depth) return `it is a symbolic link to '${target}', outside the extraction directory`;
  return null;
}

function isAbsolute(path: string): boolean {
  return path.startsWith('/') || path.startsWith('\\') || /^[A-Za-z]:/.test(path);
}

/**
 * Reads the whole archive and checks every entry; throws ARCHIVE_INVALID naming the
 * first bad one. `files` counts files and symbolic links, like collection does.
 */
export async function inspectArchive(file: string): Promise<{ entries: number; files: number }> {
  const symlinks = new Set<string>();
  let problem: string | null = null;
  let entries = 0;
  let files = 0;
  try {
    await tar.t({
      file,
      strict: true,
      onReadEntry: (entry) => {
        entries += 1;
        if (FILE_TYPES.has(entry.type) || entry.type === 'SymbolicLink') files += 1;
        if (problem !== null) return;
        const why = entryProblem(entry, symlinks);
        if (why !== null) problem = `entry '${printable(entry.path)}' is not allowed: ${why}`;
        else if (entry.type === 'SymbolicLink') symlinks.add(normalized(entry.path));
      },
    });
  } catch (error) {
    throw new SlipwayError('ARCHIVE_INVALID', `${file} is not a readable tar.gz archive: ${messageOf(error)}`, { cause: error });
  }
  if (problem !== null) throw new SlipwayError('ARCHIVE_INVALID', `${file}: ${problem}`);
  return { entries, files };
}

/**
 * Extracts a checked archive into root (which must exist). Nothing is written when a
 * check fails; a failure while writing leaves what was extracted so far.
 */
export async function extractArchive(file: string, root: string): Promise<{ entries: number; files: number }> {
  const counts = await inspectArchive(file);
  try {
    await tar.x({
      file,
      cwd: root,
      strict: true,
      preserveOwner: false,
      // Belt and braces: the checks above already refused every other type.
      filter: (_path, entry) => 'type' in entry && ALLOWED_TYPES.has(entry.type),
    });
  } catch (error) {
    throw new SlipwayError('ARCHIVE_INVALID', `could not extract ${file}: ${messageOf(error)}`, { cause: error });
  }
  return counts;
}

function normalized(path: string): string {
  return path.split(/[\\/]/).filter((segment) => segment !== '' && segment !== '.').join('/');
}

/** An entry path as it can be shown in one log line. */
function printable(path: string): string {
  return path.replaceAll('\0', '\\0').replaceAll('\n', '\\n');
}
