import type { Store } from '../../store/index.js';
import type { BlobStore } from '../blobs/index.js';
import type { Removed } from './metrics.js';

/**
 * Artifacts past their `expire_in`: file first, then the row, so that a crash in between
 * leaves a row whose file is gone (the download says so) rather than a file nothing
 * points at. At most `batch` per call, so one pass never holds the database for long.
 */
export async function sweepExpiredArtifacts(options: { store: Store; blobs: BlobStore; batch?: number }, now: number): Promise<Removed> {
  const expired = await options.store.artifacts.expired(now, options.batch ?? 500);
  let bytes = 0;
  for (const artifact of expired) {
    const info = await options.blobs.stat(artifact.storagePath);
    await options.blobs.delete(artifact.storagePath);
    await options.store.artifacts.delete(artifact.id);
    bytes += info?.sizeBytes ?? 0;
  }
  return { count: expired.length, bytes };
}
