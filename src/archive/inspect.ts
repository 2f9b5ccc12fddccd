import * as tar from 'tar';
import { SlipwayError, messageOf } from '../errors/index.js';
import { FILE_TYPES, entryProblem, normalized, printable } from './entries.js';

/** The outcome of checking every entry of an archive; problems are values here. */
export type ArchiveCheck =
  | { ok: true; entries: number; files: number }
  | { ok: false; reason: 'unreadable' | 'entry'; problem: string; cause?: unknown };

export type ArchiveEntryType = 'file' | 'directory' | 'symlink';

/** One entry of a checked archive, as listings show it. */
export type ArchiveEntry = {
  /** Normalized: no `.` or empty segments, no trailing slash (`./a//b/` → `a/b`). */
  path: string;
  type: ArchiveEntryType;
  /** Bytes of content; 0 for directories and symbolic links. */
  size: number;
  /** Permission bits (0o755...), as stored. */
  mode: number;
  /** The target of a symbolic link, null for the other types. */
  linkTarget: string | null;
};

/**
 * Reads the whole archive once and checks every entry; visit sees each entry whatever
 * the checks say. `files` counts files and symbolic links, like collection does.
 */
async function scan(file: string, visit?: (entry: tar.ReadEntry) => void): Promise<ArchiveCheck> {
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
        visit?.(entry);
        if (problem !== null) return;
        const why = entryProblem(entry, symlinks);
        if (why !== null) problem = `entry '${printable(entry.path)}' is not allowed: ${why}`;
        else if (entry.type === 'SymbolicLink') symlinks.add(normalized(entry.path));
      },
    });
  } catch (error) {
    return { ok: false, reason: 'unreadable', problem: `not a readable tar.gz archive: ${messageOf(error)}`, cause: error };
  }
  if (problem !== null) return { ok: false, reason: 'entry', problem };
  return { ok: true, entries, files };
}

/**
 * Checks every entry of the archive at file and says what is wrong as a value: the
 * first bad entry, or why the file is not a tar.gz. The problem does not name file, so
 * it can be shown to whoever uploaded it.
 */
export function checkArchive(file: string): Promise<ArchiveCheck> {
  return scan(file);
}

/**
 * Reads the whole archive and checks every entry; throws ARCHIVE_INVALID naming the
 * first bad one. `files` counts files and symbolic links, like collection does.
 */
export async function inspectArchive(file: string): Promise<{ entries: number; files: number }> {
  const check = await scan(file);
  if (!check.ok) throw invalid(file, check);
  return { entries: check.entries, files: check.files };
}

/** A listing holds every entry in memory; an archive with more entries is refused. */
const DEFAULT_MAX_LIST_ENTRIES = 100_000;

/**
 * The entries of an archive, in archive order, after the same checks as extraction:
 * throws ARCHIVE_INVALID when inspectArchive would, or when there are more than
 * maxEntries entries (a listing is built in memory).
 */
export async function listArchive(file: string, options: { maxEntries?: number } = {}): Promise<ArchiveEntry[]> {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_LIST_ENTRIES;
  const listed: ArchiveEntry[] = [];
  let count = 0;
  const check = await scan(file, (entry) => {
    count += 1;
    if (count > maxEntries) return;
    const path = normalized(entry.path);
    // The extraction directory itself ('./') is not an entry anyone can download.
    if (path === '') return;
    const type: ArchiveEntryType = entry.type === 'Directory' ? 'directory' : entry.type === 'SymbolicLink' ? 'symlink' : 'file';
    listed.push({
      path,
      type,
      size: type === 'file' ? entry.size : 0,
      mode: (entry.mode ?? 0) & 0o7777,
      linkTarget: type === 'symlink' ? (entry.linkpath ?? '') : null,
    });
  });
  if (!check.ok) throw invalid(file, check);
  if (count > maxEntries) {
    throw new SlipwayError('ARCHIVE_INVALID', `${file} has ${count} entries, more than the ${maxEntries} a listing may hold`);
  }
  return listed;
}

function invalid(file: string, check: Extract<ArchiveCheck, { ok: false }>): SlipwayError {
  return check.reason === 'unreadable'
    ? new SlipwayError('ARCHIVE_INVALID', `${file} is ${check.problem}`, { cause: check.cause })
    : new SlipwayError('ARCHIVE_INVALID', `${file}: ${check.problem}`);
}
