import { createHash } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { checkArchive, listArchive, readArchiveEntry, type ArchiveCheck, type ArchiveEntry } from '../../archive/index.js';
import { SlipwayError, isSlipwayError, messageOf } from '../../errors/index.js';
import { isMissing, syncDirectory } from '../files/index.js';
import { checkBlobId, isBlobId, newBlobId } from './ids.js';

export type BlobInfo = { id: string; sizeBytes: number; modifiedAtMs: number };

export type BlobStore = {
  put(source: Readable, options?: { maxBytes?: number }): Promise<{ id: string; sizeBytes: number; sha256: string }>;
  open(id: string): Promise<Readable | null>;
  stat(id: string): Promise<BlobInfo | null>;
  delete(id: string): Promise<void>;
  list(): AsyncIterable<BlobInfo>;
  verifyArchive(id: string): Promise<ArchiveCheck | null>;
  listArchive(id: string): Promise<ArchiveEntry[] | null>;
  readArchiveEntry(id: string, entryPath: string): Promise<Readable | null>;
};

export type BlobStoreOptions = {
  /** Where blobs live: `<dir>/<id[0..2]>/<id>`, uploads in progress in `<dir>/tmp/`. */
  dir: string;
  /** Unfinished uploads older than this are removed when the store opens (a crash left them). */
  staleUploadMs?: number;
};

// A day: no upload lasts that long, and a crash's leftovers do not need to go sooner.
const DEFAULT_STALE_UPLOAD_MS = 24 * 60 * 60 * 1000;
const SHARD = /^[0-9a-f]{2}$/;

export async function openBlobStore(options: BlobStoreOptions): Promise<BlobStore> {
  const tmp = path.join(options.dir, 'tmp');
  await mkdir(tmp, { recursive: true });
  await removeStaleUploads(tmp, Date.now() - (options.staleUploadMs ?? DEFAULT_STALE_UPLOAD_MS));
  return new FileBlobStore(options.dir);
}

class FileBlobStore implements BlobStore {
  private readonly dir: string;

  constructor(dir: string) {
    this.dir = dir;
  }

  async put(source: Readable, options: { maxBytes?: number } = {}): Promise<{ id: string; sizeBytes: number; sha256: string }> {
    const { maxBytes } = options;
    const id = newBlobId();
    const temp = path.join(this.dir, 'tmp', `${id}.part`);
    const hash = createHash('sha256');
    let sizeBytes = 0;
    const meter = new Transform({
      transform(chunk: Buffer, _encoding, callback) {
        sizeBytes += chunk.length;
        if (maxBytes !== undefined && sizeBytes > maxBytes) {
          callback(new SlipwayError('PAYLOAD_TOO_LARGE', `the upload is larger than the server's limit of ${maxBytes} bytes; it was not stored: upload fewer or smaller files`));
          return;
        }
        hash.update(chunk);
        callback(null, chunk);
      },
    });
    const file = this.pathOf(id);
    try {
      // flush: the data is synced before the rename makes the blob visible.
      await pipeline(source, meter, createWriteStream(temp, { flags: 'wx', flush: true }));
      const shard = path.dirname(file);
      const madeShard = (await mkdir(shard, { recursive: true })) !== undefined;
      await rename(temp, file);
      // The new name is durable once its directory is synced, and a new shard's name once the root is.
      await syncDirectory(shard);
      if (madeShard) await syncDirectory(this.dir);
    } catch (error) {
      await rm(temp, { force: true });
      if (isSlipwayError(error)) throw error;
      throw new SlipwayError('INTERNAL', `could not store the upload: ${messageOf(error)}`, { cause: error });
    }
    return { id, sizeBytes, sha256: hash.digest('hex') };
  }

  async open(id: string): Promise<Readable | null> {
    checkBlobId(id);
    try {
      const handle = await open(this.pathOf(id), 'r');
      return handle.createReadStream();
    } catch (error) {
      if (isMissing(error)) return null;
      throw new SlipwayError('INTERNAL', `could not open blob ${id}: ${messageOf(error)}`, { cause: error });
    }
  }

  async stat(id: string): Promise<BlobInfo | null> {
    checkBlobId(id);
    try {
      const info = await stat(this.pathOf(id));
      return { id, sizeBytes: info.size, modifiedAtMs: info.mtimeMs };
    } catch (error) {
      if (isMissing(error)) return null;
      throw new SlipwayError('INTERNAL', `could not read blob ${id}: ${messageOf(error)}`, { cause: error });
    }
  }

  async delete(id: string): Promise<void> {
    checkBlobId(id);
    await rm(this.pathOf(id), { force: true });
  }

  async *list(): AsyncGenerator<BlobInfo> {
    for (const shard of (await readdir(this.dir)).filter((name) => SHARD.test(name)).sort()) {
      let names: string[];
      try {
        names = await readdir(path.join(this.dir, shard));
      } catch (error) {
        if (isMissing(error)) continue;
        throw error;
      }
      for (const name of names.sort()) {
        if (!isBlobId(name) || !name.startsWith(shard)) continue;
        const info = await this.stat(name);
        // Deleted since the directory was read.
        if (info !== null) yield info;
      }
    }
  }

  async verifyArchive(id: string): Promise<ArchiveCheck | null> {
    checkBlobId(id);
    const check = await checkArchive(this.pathOf(id));
    return !check.ok && isMissing(check.cause) ? null : check;
  }

  listArchive(id: string): Promise<ArchiveEntry[] | null> {
    return this.inArchive(id, (file) => listArchive(file));
  }

  readArchiveEntry(id: string, entryPath: string): Promise<Readable | null> {
    return this.inArchive(id, (file) => readArchiveEntry(file, entryPath));
  }

  /**
   * Runs fn on the file of blob id: null when there is no such blob (whether it never
   * existed or was deleted meanwhile). Archive errors name the file; a user is shown the
   * blob id instead.
   */
  private async inArchive<T>(id: string, fn: (file: string) => Promise<T>): Promise<T | null> {
    checkBlobId(id);
    const file = this.pathOf(id);
    try {
      return await fn(file);
    } catch (error) {
      if (!isSlipwayError(error, 'ARCHIVE_INVALID')) throw error;
      if (isMissing(error.cause)) return null;
      throw new SlipwayError('ARCHIVE_INVALID', error.message.replaceAll(file, `blob ${id}`), { cause: error });
    }
  }

  /** Only for ids that passed checkBlobId (or were made here). */
  private pathOf(id: string): string {
    return path.join(this.dir, id.slice(0, 2), id);
  }
}

async function removeStaleUploads(tmp: string, before: number): Promise<void> {
  for (const name of await readdir(tmp)) {
    const file = path.join(tmp, name);
    try {
      if ((await stat(file)).mtimeMs < before) await rm(file, { force: true });
    } catch (error) {
      if (!isMissing(error)) throw error;
    }
  }
}
