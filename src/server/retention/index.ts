import type { Store } from '../../store/index.js';
import type { BlobStore } from '../blobs/index.js';

/**
 * Retention: artifacts past their `expire_in` are deleted, file first, then the row, so
 * that a crash in between leaves a row whose file is gone (the download says so) rather
 * than a file nothing points at. Runs in batches so one pass never holds the database
 * for long; `sweep` returns how many it removed so a caller can loop while it is busy.
 */
export type RetentionOptions = {
  store: Store;
  blobs: BlobStore;
  /** Artifacts removed per pass at most. */
  batch?: number;
};

export async function sweepExpiredArtifacts(options: RetentionOptions, now: number): Promise<number> {
  const expired = await options.store.artifacts.expired(now, options.batch ?? 500);
  for (const artifact of expired) {
    await options.blobs.delete(artifact.storagePath);
    await options.store.artifacts.delete(artifact.id);
  }
  return expired.length;
}

/** Sweeps every intervalMs (unref'd: it never keeps the process alive); stop() ends it. */
export function startRetention(
  options: RetentionOptions & { intervalMs: number; now: () => number; onError: (error: unknown) => void },
): { stop(): void } {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweepExpiredArtifacts(options, options.now())
      .catch(options.onError)
      .finally(() => {
        running = false;
      });
  }, options.intervalMs);
  timer.unref();
  return { stop: () => clearInterval(timer) };
}
