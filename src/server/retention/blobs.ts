import type { Store } from '../../store/index.js';
import type { BlobInfo, BlobStore } from '../blobs/index.js';
import type { Removed } from './metrics.js';

// Blobs asked about per query: well below SQLite's bound-parameter limit.
const BATCH = 500;

/**
 * Deletes blobs no artifact or cache row points at: a cache replaced while a download
 * still read the old one, an upload whose row was never committed. A blob is written
 * before its row, so only blobs last modified more than `graceMs` ago are candidates:
 * an upload in progress, or one whose row is being committed, is never taken. Rows only
 * ever point at fresh blobs, so a blob found unreferenced after its grace stays so.
 */
export async function collectUnreferencedBlobs(options: { store: Store; blobs: BlobStore; graceMs: number }, now: number): Promise<Removed> {
  const removed: Removed = { count: 0, bytes: 0 };
  let batch: BlobInfo[] = [];
  const flush = async () => {
    const ids = batch.map((blob) => blob.id);
    const [artifacts, caches] = await Promise.all([options.store.artifacts.referencedPaths(ids), options.store.caches.referencedBlobs(ids)]);
    for (const blob of batch) {
      if (artifacts.has(blob.id) || caches.has(blob.id)) continue;
      await options.blobs.delete(blob.id);
      removed.count += 1;
      removed.bytes += blob.sizeBytes;
    }
    batch = [];
  };
  for await (const blob of options.blobs.list()) {
    if (blob.modifiedAtMs > now - options.graceMs) continue;
    batch.push(blob);
    if (batch.length >= BATCH) await flush();
  }
  if (batch.length > 0) await flush();
  return removed;
}
