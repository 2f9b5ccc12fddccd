/** Durations and times as people read them. */

export function duration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '—';
  const seconds = Math.round(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

/** How long something ran: to its end, or to now while it runs. */
export function elapsed(startedAt: number | null, finishedAt: number | null, now = Date.now()): number | null {
  if (startedAt === null) return null;
  return (finishedAt ?? now) - startedAt;
}

export function ago(at: number | null, now = Date.now()): string {
  if (at === null) return '—';
  const seconds = Math.round((now - at) / 1000);
  if (seconds < 5) return 'just now';
  if (seconds < 60) return `${seconds}s ago`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours}h ago`;
  return new Date(at).toLocaleDateString();
}

export const exact = (at: number | null): string => (at === null ? '' : new Date(at).toLocaleString());

export const shortSha = (sha: string): string => sha.slice(0, 8);

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 ** 3) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 ** 3).toFixed(2)} GiB`;
}

const FINISHED = new Set(['success', 'failed', 'canceled', 'error', 'skipped']);
export const isFinished = (status: string): boolean => FINISHED.has(status);
