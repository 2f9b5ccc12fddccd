// From triggering a build through the API to the first byte of its job's log stored on
// the server, with a real server (startServer, SQLite) whose local engine launches real
// `slipway agent` processes: (a) a new agent for every build (maxJobsPerAgent 1: the
// agent is stopped after its job), (b) one idle agent kept warm. The log is polled
// every 2 ms with one request (about 1 ms), which bounds the measuring error to about 3 ms. Each build is waited for to the end (and
// in (a) the last agent to be gone) before the next is triggered.
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createLocalEngine, DEFAULT_TEMPLATE } from '../src/engines/index.js';
import { report, summarize, type Row } from './lib/report.js';
import { oneLineRepo, startBenchServer, timeBuild } from './lib/server.js';

const BUILDS = 50;
const POLL_MS = 2;

type Scenario = { name: string; template: Record<string, unknown>; warmUp: boolean };

const scenarios: Scenario[] = [
  { name: 'new local agent per build', template: { maxJobsPerAgent: 1, idleMinutes: 5 }, warmUp: false },
  { name: 'idle agent kept warm', template: { maxJobsPerAgent: 0, idleMinutes: 60 }, warmUp: true },
];

async function run(scenario: Scenario): Promise<Row> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'slipway-bench-trigger-'));
  const repo = await oneLineRepo(dir);
  const fileText = `logLevel: silent\nengines:\n  - kind: local\n    stopGraceMs: 5000\n    templates:\n      - ${JSON.stringify({ name: 'default', cpus: 0.1, memoryMiB: 64, maxAgents: 4, ...scenario.template })}\n`;
  const { server, home, api } = await startBenchServer(dir, fileText);
  const tasksDir = path.join(home, 'engines', 'local', 'tasks');
  const markers = async (): Promise<number> => (await readdir(tasksDir).catch(() => [] as string[])).filter((name) => name.endsWith('.json')).length;
  const samples: number[] = [];
  const triggerMs: number[] = [];
  try {
    await api('POST', '/api/v1/projects', { name: 'bench', repositoryUrl: repo });
    for (let i = 0; i < BUILDS + (scenario.warmUp ? 1 : 0); i += 1) {
      const { triggeredMs, firstByteMs } = await timeBuild(api, 'bench', POLL_MS);
      // (a): the used agent must be gone, or the next build could find it still idle.
      if (!scenario.warmUp) while ((await markers()) > 0) await delay(10);
      if (scenario.warmUp && i === 0) continue;
      samples.push(firstByteMs);
      triggerMs.push(triggeredMs);
    }
  } finally {
    await server.close();
    // The server leaves its agents running (a restart adopts them); a benchmark does not.
    const serverId = (await readFile(path.join(home, 'server-id'), 'utf8')).trim();
    const engine = createLocalEngine({ serverId, stateDir: path.join(home, 'engines', 'local'), agentCommand: [process.execPath], templates: [DEFAULT_TEMPLATE], baseEnv: process.env });
    for (const task of await engine.list()) await engine.stop(task.id);
    await engine.close();
    await rm(dir, { recursive: true, force: true });
  }
  const s = summarize(samples);
  // How much of it is the trigger request itself (mirror fetch, pipeline, store), before any agent is involved.
  return { scenario: scenario.name, builds: s.n, 'p50 ms': s.p50, 'p90 ms': s.p90, 'mean ms': s.mean, 'trigger request p50 ms': summarize(triggerMs).p50 };
}

const rows: Row[] = [];
for (const scenario of scenarios) rows.push(await run(scenario));
await report('trigger-latency', 'Trigger → first log byte of the job stored (real server, local engine, real agents)', rows, [
  'targets: idle agent p50 <= 35 ms; new local agent p50 <= 300 ms',
  `log polled every ${POLL_MS} ms; each build runs to the end before the next is triggered`,
]);
