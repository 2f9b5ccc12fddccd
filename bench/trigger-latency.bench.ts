// From triggering a build through the API to the first byte of its job's log stored on
// the server, with a real server (startServer, SQLite) whose local engine launches real
// `slipway agent` processes: (a) a new agent for every build (maxJobsPerAgent 1: the
// agent is stopped after its job), (b) one idle agent kept warm. The log is polled
// every 2 ms with one request (about 1 ms), which bounds the measuring error to about 3 ms. Each build is waited for to the end (and
// in (a) the last agent to be gone) before the next is triggered.
import { execFileSync } from 'node:child_process';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { loadConfig, startServer } from '../src/server/index.js';
import { createLocalEngine, DEFAULT_TEMPLATE } from '../src/engines/index.js';
import { readFile } from 'node:fs/promises';
import { report, summarize, type Row } from './lib/report.js';

const BUILDS = 50;
const POLL_MS = 2;
const finished = new Set(['success', 'failed', 'canceled', 'error', 'skipped']);

type Scenario = { name: string; template: Record<string, unknown>; warmUp: boolean };

const scenarios: Scenario[] = [
  { name: 'new local agent per build', template: { maxJobsPerAgent: 1, idleMinutes: 5 }, warmUp: false },
  { name: 'idle agent kept warm', template: { maxJobsPerAgent: 0, idleMinutes: 60 }, warmUp: true },
];

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', args, { cwd, env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b.invalid', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b.invalid' }, stdio: 'ignore' });
}

async function run(scenario: Scenario): Promise<Row> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'slipway-bench-trigger-'));
  const home = path.join(dir, 'home');
  const repo = path.join(dir, 'repo');
  execFileSync('mkdir', ['-p', repo]);
  git(repo, 'init', '-q', '-b', 'main');
  execFileSync('sh', ['-c', `printf 'hello:\\n  script:\\n    - echo first line\\n' > .slipway.yml`], { cwd: repo });
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'bench');
  const fileText = `logLevel: silent\nengines:\n  - kind: local\n    stopGraceMs: 5000\n    templates:\n      - ${JSON.stringify({ name: 'default', cpus: 0.1, memoryMiB: 64, maxAgents: 4, ...scenario.template })}\n`;
  const config = loadConfig({ env: {}, cwd: dir, fileText, flags: { home, listen: '127.0.0.1:0' } });
  let token = '';
  const server = await startServer(config, { baseEnv: process.env, logger: pino({ level: 'silent' }), print: (line) => (token = /:\s*(\S+)$/.exec(line)?.[1] ?? '') });
  const api = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${server.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  const tasksDir = path.join(home, 'engines', 'local', 'tasks');
  const markers = async (): Promise<number> => (await readdir(tasksDir).catch(() => [] as string[])).filter((name) => name.endsWith('.json')).length;
  const samples: number[] = [];
  const triggerMs: number[] = [];
  try {
    await api('POST', '/api/v1/projects', { name: 'bench', repositoryUrl: repo });
    for (let i = 0; i < BUILDS + (scenario.warmUp ? 1 : 0); i += 1) {
      const started = performance.now();
      const build = await api<{ id: number }>('POST', '/api/v1/projects/bench/builds', {});
      const triggered = performance.now() - started;
      // The jobs are stored with the build: ask for them once, then poll only the log (one
      // request per poll, not two: each request also costs the server it is measuring).
      const jobs = await api<{ items: Array<{ id: number }> } | Array<{ id: number }>>('GET', `/api/v1/builds/${build.id}/jobs`);
      const job = (Array.isArray(jobs) ? jobs : jobs.items)[0];
      if (job === undefined) throw new Error(`build ${build.id} has no job`);
      let firstByteMs = 0;
      for (;;) {
        const log = await api<{ size: number }>('GET', `/api/v1/jobs/${job.id}/log?offset=0&limit=1`);
        if (log.size > 0) {
          firstByteMs = performance.now() - started;
          break;
        }
        await delay(POLL_MS);
      }
      for (;;) {
        const current = await api<{ status: string }>('GET', `/api/v1/builds/${build.id}`);
        if (finished.has(current.status)) break;
        await delay(10);
      }
      // (a): the used agent must be gone, or the next build could find it still idle.
      if (!scenario.warmUp) while ((await markers()) > 0) await delay(10);
      if (scenario.warmUp && i === 0) continue;
      samples.push(firstByteMs);
      triggerMs.push(triggered);
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
