import { formatDuration } from '../../executor/index.js';
import type { JobOutcome } from './local-run.js';
import { paint, type Style } from './printer.js';

/** The table printed when a run ends: job, status, duration, retries. */
export function formatSummary(jobs: JobOutcome[], style: Style): string {
  const rows = jobs.map((job) => [job.name, statusText(job), formatDuration(job.durationMs), String(Math.max(0, job.attempts - 1))]);
  const header = ['JOB', 'STATUS', 'DURATION', 'RETRIES'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[], colorize: (cell: string, i: number) => string) =>
    cells.map((cell, i) => colorize(cell.padEnd(widths[i] ?? 0), i)).join('  ').trimEnd();
  const out = [line(header, (c) => paint(style, '1', c))];
  jobs.forEach((job, index) => {
    out.push(line(rows[index] ?? [], (cell, i) => (i === 1 ? paint(style, statusColor(job), cell) : cell)));
  });
  return out.join('\n');
}

function statusText(job: JobOutcome): string {
  if (job.status === 'failed' && job.failureAllowed) return 'failed (allowed)';
  if (job.status === 'failed' && job.failure?.kind === 'timeout') return 'failed (timeout)';
  if (job.status === 'failed' && job.failure?.kind === 'system_failure') return 'failed (system)';
  return job.status;
}

function statusColor(job: JobOutcome): number {
  if (job.status === 'success') return 32;
  if (job.status === 'failed') return job.failureAllowed ? 33 : 31;
  if (job.status === 'canceled') return 35;
  return 2;
}
