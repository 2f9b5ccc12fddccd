import fs from 'node:fs';
import { promisify } from 'node:util';

/**
 * The few file operations the log store needs, on raw descriptors: writes are
 * positional (the store decides where every byte goes, so truncating a torn tail is
 * explicit), and a descriptor closes synchronously, which lets eviction happen
 * anywhere without leaving a promise behind.
 */

const openAsync = promisify(fs.open);
const writevAsync = promisify(fs.writev);
const readAsync = promisify(fs.read);
const fdatasyncAsync = promisify(fs.fdatasync);
const ftruncateAsync = promisify(fs.ftruncate);
const fstatAsync = promisify(fs.fstat);

const OPEN_FLAGS = {
  /** Reading only; the file must exist. */
  read: fs.constants.O_RDONLY,
  /** Reading and writing; the file must exist. */
  update: fs.constants.O_RDWR,
  /** Reading and writing, created when missing. */
  write: fs.constants.O_RDWR | fs.constants.O_CREAT,
  /** Reading and writing, created empty. */
  create: fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_TRUNC,
} as const;

export function openFile(path: string, mode: keyof typeof OPEN_FLAGS): Promise<number> {
  return openAsync(path, OPEN_FLAGS[mode], 0o644);
}

export function closeFile(fd: number): void {
  fs.closeSync(fd);
}

/** Writes every byte of buffers at position; a short write (a signal, a full disk) is resumed. */
export async function writeAll(fd: number, buffers: readonly Buffer[], position: number): Promise<number> {
  let pending = buffers;
  let at = position;
  const end = position + buffers.reduce((sum, buffer) => sum + buffer.length, 0);
  while (at < end) {
    const { bytesWritten } = await writevAsync(fd, pending, at);
    if (bytesWritten <= 0) throw new Error(`wrote nothing at byte ${at}`);
    at += bytesWritten;
    if (at < end) pending = after(pending, bytesWritten);
  }
  return end - position;
}

/** What remains of buffers once their first count bytes are written. */
function after(buffers: readonly Buffer[], count: number): Buffer[] {
  let skip = count;
  let index = 0;
  for (const buffer of buffers) {
    if (skip < buffer.length) break;
    skip -= buffer.length;
    index += 1;
  }
  const rest = buffers.slice(index);
  const first = rest[0];
  if (first !== undefined) rest[0] = first.subarray(skip);
  return rest;
}

/** Reads up to length bytes at position; fewer only at the end of the file. */
export async function readAt(fd: number, length: number, position: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let filled = 0;
  while (filled < length) {
    const { bytesRead } = await readAsync(fd, buffer, filled, length - filled, position + filled);
    if (bytesRead === 0) break;
    filled += bytesRead;
  }
  return buffer.subarray(0, filled);
}

export function syncData(fd: number): Promise<void> {
  return fdatasyncAsync(fd);
}

export function truncateFile(fd: number, length: number): Promise<void> {
  return ftruncateAsync(fd, length);
}

export async function fileSize(fd: number): Promise<number> {
  return (await fstatAsync(fd)).size;
}

export { isMissing, syncDirectory } from '../files/index.js';
