// Log ingest into the server's LogStore, the way agents send it: data chunks in
// batches, several batches in flight per attempt (an agent does not wait for each ack),
// many attempts at once. Every append resolves only when its data is synced, so this is
// the durable ingest rate. RSS growth is the peak resident size during a scenario minus
// the size just before it.
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { openLogStore, type LogChunk } from '../src/server/logs/index.js';
import { report, round, type Row } from './lib/report.js';

type Scenario = { name: string; jobs: number; inFlight: number; chunkBytes: number; batch: number; totalBytes: number };

const MiB = 1024 * 1024;
const scenarios: Scenario[] = [
  { name: '1 GiB, 8 attempts, 4 batches in flight each', jobs: 8, inFlight: 4, chunkBytes: 16 * 1024, batch: 32, totalBytes: 1024 * MiB },
  { name: '1 GiB, 1 attempt, 8 batches in flight', jobs: 1, inFlight: 8, chunkBytes: 16 * 1024, batch: 32, totalBytes: 1024 * MiB },
  { name: '1 attempt, waits for each ack', jobs: 1, inFlight: 1, chunkBytes: 16 * 1024, batch: 32, totalBytes: 256 * MiB },
  { name: '64 attempts, 1 batch in flight each', jobs: 64, inFlight: 1, chunkBytes: 16 * 1024, batch: 32, totalBytes: 256 * MiB },
  { name: '64 attempts, small chunks (1 KiB)', jobs: 64, inFlight: 2, chunkBytes: 1024, batch: 32, totalBytes: 64 * MiB },
];

/** Log-like text of exactly size bytes: numbered lines of ASCII. */
function text(size: number, salt: number): string {
  let out = '';
  for (let line = 0; out.length < size; line += 1) out += `${salt}:${line} compiling module ${(line * 7919) % 1000} of 1000 ... ok\n`;
  return `${out.slice(0, size - 1)}\n`;
}

async function run(scenario: Scenario): Promise<Row> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'slipway-bench-logs-'));
  // Eight distinct chunk texts: enough that nothing is suspiciously repetitive, small enough to keep out of the RSS figure.
  const texts = Array.from({ length: 8 }, (_, i) => text(scenario.chunkBytes, i));
  const batchesPerJob = Math.ceil(scenario.totalBytes / (scenario.chunkBytes * scenario.batch * scenario.jobs));
  global.gc?.();
  const rssBefore = process.memoryUsage().rss;
  let rssPeak = rssBefore;
  const sampler = setInterval(() => {
    rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
  }, 5);
  const store = await openLogStore({ dir });
  const ackLatencies: number[] = [];
  const started = performance.now();
  try {
    await Promise.all(
      Array.from({ length: scenario.jobs }, async (_, job) => {
        const key = { jobId: job + 1, attempt: 1 };
        let next = 0;
        // inFlight senders share the job's sequence: batch b holds seqs b*batch+1 …
        await Promise.all(
          Array.from({ length: scenario.inFlight }, async () => {
            while (next < batchesPerJob) {
              const b = next;
              next += 1;
              const chunks: LogChunk[] = [];
              for (let i = 0; i < scenario.batch; i += 1) {
                const seq = b * scenario.batch + i + 1;
                chunks.push({ seq, kind: 'data', stream: 'stdout', data: texts[seq % texts.length] ?? '', atMs: seq });
              }
              const sent = performance.now();
              await store.append(key, chunks);
              ackLatencies.push(performance.now() - sent);
              rssPeak = Math.max(rssPeak, process.memoryUsage().rss);
            }
          }),
        );
      }),
    );
  } finally {
    clearInterval(sampler);
  }
  const seconds = (performance.now() - started) / 1000;
  let stored = 0;
  for (let job = 1; job <= scenario.jobs; job += 1) stored += await store.size({ jobId: job, attempt: 1 });
  await store.close();
  await rm(dir, { recursive: true, force: true });
  ackLatencies.sort((a, b) => a - b);
  const at = (p: number) => ackLatencies[Math.min(ackLatencies.length - 1, Math.floor(p * ackLatencies.length))] ?? Number.NaN;
  return {
    scenario: scenario.name,
    'chunk KiB': scenario.chunkBytes / 1024,
    batch: scenario.batch,
    MiB: round(stored / MiB, 0),
    seconds: round(seconds, 2),
    'MB/s': round(stored / 1e6 / seconds, 0),
    'ack p50 ms': round(at(0.5), 1),
    'ack p99 ms': round(at(0.99), 1),
    'RSS growth MB': round((rssPeak - rssBefore) / 1e6, 1),
  };
}

const rows: Row[] = [];
for (const scenario of scenarios) rows.push(await run(scenario));
await report('log-ingest', 'durable log ingest into the LogStore (append resolves after fdatasync)', rows, [
  'targets: >= 200 MB/s and <= 100 MB RSS growth for the 1 GiB scenario; MB = 10^6 bytes',
  `temp data under ${os.tmpdir()}, removed after each scenario`,
]);
