import { Counter, type Registry } from 'prom-client';

/** What one sweep removed. */
export type Removed = { count: number; bytes: number };

export type RetentionKind = 'artifacts' | 'logs' | 'blobs';

export type RetentionMetrics = { record(kind: RetentionKind, removed: Removed): void };

/** slipway_retention_removed_total / _bytes_total {kind}: artifacts, logs (builds' worth), unreferenced blobs. */
export function createRetentionMetrics(registry: Registry | undefined): RetentionMetrics {
  if (registry === undefined) return { record: () => undefined };
  const count = new Counter({ name: 'slipway_retention_removed_total', help: 'What retention deleted: expired artifacts, the logs of expired builds, unreferenced blobs', labelNames: ['kind'], registers: [registry] });
  const bytes = new Counter({ name: 'slipway_retention_removed_bytes_total', help: 'Bytes retention deleted from the log and blob directories', labelNames: ['kind'], registers: [registry] });
  return {
    record(kind, removed) {
      count.inc({ kind }, removed.count);
      bytes.inc({ kind }, removed.bytes);
    },
  };
}
