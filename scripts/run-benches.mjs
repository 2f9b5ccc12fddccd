#!/usr/bin/env node
// Runs every compiled benchmark (dist/bench/*.bench.js) one after another.
// Usage: node scripts/run-benches.mjs [substring...] — only benchmarks whose name contains one.
// Benchmarks print tables and write JSON under bench/results/; they never fail on a number.
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const dir = path.join(root, 'dist', 'bench');
const filters = process.argv.slice(2);
const benches = readdirSync(dir)
  .filter((f) => f.endsWith('.bench.js'))
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)))
  .sort();
let failed = 0;
for (const file of benches) {
  const result = spawnSync(process.execPath, [path.join(dir, file)], { stdio: 'inherit', cwd: root });
  if (result.status !== 0) {
    failed += 1;
    console.error(`benchmark ${file} did not complete (exit ${result.status})`);
  }
}
process.exit(failed === 0 ? 0 : 1);
