/**
 * Artifact and cache archives: gzip'd tar files, written with node-tar and read back
 * only after every entry has been checked. An archive is untrusted input (the server
 * applies the same checks to uploads): nothing in it may land outside the directory
 * it is extracted into.
 *
 * Accepted entries: files, directories, and symbolic links whose target is relative
 * and stays inside the root (node_modules/.bin needs them). Rejected, with the whole
 * archive: absolute paths, `..` segments, NUL bytes, hard links, devices, FIFOs,
 * symbolic links pointing outside, and entries written through a symbolic link of the
 * same archive. Extraction itself (node-tar, not following links) also refuses to
 * write through a symbolic link already present in the destination.
 *
 * Used by the executor (pack, extract) and the server (check uploads, list an
 * artifact, serve one file of it). Every function takes a file path and may be called
 * concurrently on the same archive; none modifies it.
 */
export { packArchive } from './pack.js';
export { extractArchive } from './extract.js';
export {
  checkArchive,
  inspectArchive,
  listArchive,
  type ArchiveCheck,
  type ArchiveEntry,
  type ArchiveEntryType,
} from './inspect.js';
export { readArchiveEntry } from './read-entry.js';
export { entryProblem, linkTargetProblem, type EntryLike } from './entries.js';
