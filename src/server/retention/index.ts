import type { Registry } from 'prom-client';
import type { Store } from '../../store/index.js';
import type { BlobStore } from '../blobs/index.js';
import type { LogStore } from '../logs/index.js';
import { sweepExpiredArtifacts } from './artifacts.js';
import { collectUnreferencedBlobs } from './blobs.js';
import { sweepExpiredLogs } from './logs.js';
import { createRetentionMetrics, type RetentionKind, type Removed } from './metrics.js';

/**
 * Retention: what the server deletes on its own, every sweep interval.
 *  - Artifacts past their `expire_in` (file, then row).
 *  - Job logs of builds finished more than `logsDays` ago (files, then the build's mark,
 *    which the log API answers with 410 GONE).
 *  - Blobs no row points at, once their grace has passed; at most once an hour, since it
 *    walks the whole blob directory.
 * Each sweep works in batches and loops while a batch came back full, so a backlog drains
 * without one pass holding the database long. One sweep at a time.
 */
export type RetentionOptions = {
  store: Store;
  blobs: BlobStore;
  logs: LogStore;
  /** Logs of builds finished longer ago than this are deleted; 0 keeps them forever. */
  logsDays: number;
  /** An unreferenced blob is deleted once it has been unmodified this long. */
  blobGraceMs: number;
  registry?: Registry;
};

export { sweepExpiredArtifacts } from './artifacts.js';
export { collectUnreferencedBlobs } from './blobs.js';
export { sweepExpiredLogs } from './logs.js';
export type { Removed, RetentionKind } from './metrics.js';

// Unreferenced blobs are rare (a crash, a replaced cache): an hourly walk finds them soon enough.
const BLOB_COLLECTION_INTERVAL_MS = 60 * 60 * 1000;
const ARTIFACT_BATCH = 500;
const LOG_BATCH = 100;

export type Retention = {
  /** One sweep now (what the timer runs): artifacts and logs always, blobs on the first sweep and then hourly. */
  sweep(now: number): Promise<Record<RetentionKind, Removed>>;
  stop(): void;
};

/** Sweeps every intervalMs (unref'd: it never keeps the process alive); stop() ends it. */
export function startRetention(options: RetentionOptions & { intervalMs: number; now: () => number; onError: (error: unknown) => void }): Retention {
  const metrics = createRetentionMetrics(options.registry);
  let lastBlobCollection = Number.NEGATIVE_INFINITY;

  async function drain(kind: RetentionKind, batch: number, once: () => Promise<Removed>): Promise<Removed> {
    const total: Removed = { count: 0, bytes: 0 };
    for (;;) {
      const removed = await once();
      metrics.record(kind, removed);
      total.count += removed.count;
      total.bytes += removed.bytes;
      if (removed.count < batch) return total;
    }
  }

  async function sweep(now: number): Promise<Record<RetentionKind, Removed>> {
    const artifacts = await drain('artifacts', ARTIFACT_BATCH, () => sweepExpiredArtifacts({ ...options, batch: ARTIFACT_BATCH }, now));
    const logs = await drain('logs', LOG_BATCH, () => sweepExpiredLogs({ ...options, batch: LOG_BATCH }, now));
    let blobs: Removed = { count: 0, bytes: 0 };
    if (now - lastBlobCollection >= BLOB_COLLECTION_INTERVAL_MS) {
      lastBlobCollection = now;
      blobs = await collectUnreferencedBlobs({ ...options, graceMs: options.blobGraceMs }, now);
      metrics.record('blobs', blobs);
    }
    return { artifacts, logs, blobs };
  }

  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    sweep(options.now())
      .catch(options.onError)
      .finally(() => {
        running = false;
      });
  }, options.intervalMs);
  timer.unref();
  return { sweep, stop: () => clearInterval(timer) };
}
