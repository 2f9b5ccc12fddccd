import { mkdir, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where benchmark JSON goes: bench/results/ of the checkout (not of dist/). */
const resultsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bench/results');

export type Row = Record<string, string | number>;

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const index = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[index] ?? Number.NaN;
}

export function summarize(samplesMs: number[]): { n: number; p50: number; p90: number; mean: number } {
  const sorted = [...samplesMs].sort((a, b) => a - b);
  const mean = sorted.reduce((a, b) => a + b, 0) / Math.max(1, sorted.length);
  return { n: sorted.length, p50: round(percentile(sorted, 50)), p90: round(percentile(sorted, 90)), mean: round(mean) };
}

export function round(n: number, digits = 2): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

/** Prints rows as a table and writes them, with the machine's facts, to bench/results/NAME.json. */
export async function report(name: string, title: string, rows: Row[], notes: string[] = []): Promise<void> {
  const headers = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const widths = headers.map((h) => Math.max(h.length, ...rows.map((r) => String(r[h] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ');
  process.stdout.write(`\n${title}\n${line(headers)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const row of rows) process.stdout.write(`${line(headers.map((h) => String(row[h] ?? '')))}\n`);
  for (const note of notes) process.stdout.write(`${note}\n`);
  await mkdir(resultsDir, { recursive: true });
  const machine = { cpus: os.cpus().length, memoryGiB: round(os.totalmem() / 2 ** 30, 1), node: process.version, platform: `${os.platform()} ${os.release()}` };
  const file = path.join(resultsDir, `${name}.json`);
  await writeFile(file, `${JSON.stringify({ name, title, at: new Date().toISOString(), machine, rows, notes }, null, 2)}\n`);
  process.stdout.write(`wrote ${path.relative(process.cwd(), file)}\n`);
}
