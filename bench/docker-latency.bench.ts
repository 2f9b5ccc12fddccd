// From triggering a build through the API to the first byte of its job's log stored on
// the server, with a real server (startServer, SQLite) whose docker engine runs agents in
// containers of slipway/base:bookworm (no Node, no git: the agent's runtime comes from the
// engine's volume, the source from the server's archive), beside what Docker itself costs
// in the same run: `docker run --rm --network host IMAGE true`, one after each build of
// (a) so that both see the machine's load of the moment, and the same with the runtime
// volume running node (`-e 0`) and loading the agent bundle (`--version`).
// Scenarios: (a) a new container for every build (maxJobsPerAgent 1: the agent is stopped
// after its job, and its container gone before the next build), (b) one idle agent kept
// warm (maxJobsPerAgent 0). One warm-up build each is not counted: it fills the runtime
// volume, or starts the warm agent. For (a), Docker's events and the agent's stderr give
// where the time goes: trigger → created → started → connected → welcomed → job started
// → first log byte.
// The log is polled every 2 ms with one request (about 1 ms): the error is about 3 ms.
import { execFile } from 'node:child_process';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import Docker from 'dockerode';
import { report, round, summarize, type Row } from './lib/report.js';
import { oneLineRepo, startBenchServer, timeBuild } from './lib/server.js';

const IMAGE = 'slipway/base:bookworm';
/** At least 50 for the figures; fewer (SLIPWAY_BENCH_BUILDS) to try the benchmark out. */
const BUILDS = Number(process.env.SLIPWAY_BENCH_BUILDS ?? 50);
const POLL_MS = 2;
const AGENT_SCRIPT = fileURLToPath(new URL('../agent-bundle/slipway-agent.mjs', import.meta.url));
const run = promisify(execFile);
const docker = new Docker({ socketPath: '/var/run/docker.sock' });

type Scenario = { name: string; template: Record<string, unknown> };

const scenarios: Scenario[] = [
  { name: 'new container per build', template: { maxJobsPerAgent: 1, idleMinutes: 5 } },
  { name: 'idle agent kept warm', template: { maxJobsPerAgent: 0, idleMinutes: 60 } },
];

/** Why the benchmark cannot run here, or null. */
async function unavailable(): Promise<string | null> {
  try {
    await docker.ping();
    await docker.getImage(IMAGE).inspect();
  } catch (error) {
    return `Docker or the image ${IMAGE} is not available (${(error as Error).message.split('\n')[0]})`;
  }
  try {
    await access(AGENT_SCRIPT);
  } catch {
    return `the agent bundle ${AGENT_SCRIPT} is missing: run npm run build`;
  }
  return null;
}

/** Wall-clock ms with sub-ms precision, comparable with Docker's event times. */
const wallNow = (): number => performance.timeOrigin + performance.now();

/** `docker run --rm --network host IMAGE ...` timed from the CLI's start to its exit, n times. */
async function rawRuns(n: number, args: string[]): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i += 1) {
    const started = performance.now();
    await run('docker', ['run', '--rm', '--network', 'host', '--label', 'slipway.bench=docker-latency', ...args]);
    samples.push(performance.now() - started);
  }
  return samples;
}

type Times = { create?: number; start?: number; connected?: number; welcomed?: number; jobStarted?: number };

/** What the agent writes on stderr, as marks of its start: (docker logs line) → field. */
const AGENT_MARKS: Array<[RegExp, keyof Times]> = [
  [/^agent: connected /, 'connected'],
  [/^agent: welcomed /, 'welcomed'],
  [/^agent: job started /, 'jobStarted'],
];

/**
 * When each of one server's agent containers was created and started (Docker's events),
 * and when its agent connected, was welcomed and started its job (the daemon's
 * timestamps of the agent's stderr lines), in epoch ms.
 */
async function followEvents(serverId: string): Promise<{ times: Map<string, Times>; stop: () => void }> {
  const times = new Map<string, Times>();
  const streams: Array<{ destroy(): void }> = [];
  const stream = (await docker.getEvents({ filters: { type: ['container'], event: ['create', 'start'], label: [`slipway.server=${serverId}`, 'slipway.kind=agent'] } })) as NodeJS.ReadableStream & { destroy(): void };
  streams.push(stream);
  const followLogs = async (name: string, entry: Times): Promise<void> => {
    const logs = (await docker.getContainer(name).logs({ follow: true, stdout: true, stderr: true, timestamps: true })) as NodeJS.ReadableStream & { destroy(): void };
    streams.push(logs);
    const lines = new PassThrough();
    docker.modem.demuxStream(logs, lines, lines);
    logs.on('end', () => lines.end());
    let text = '';
    lines.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      let end: number;
      while ((end = text.indexOf('\n')) >= 0) {
        const line = text.slice(0, end);
        text = text.slice(end + 1);
        const space = line.indexOf(' ');
        const mark = AGENT_MARKS.find(([pattern]) => pattern.test(line.slice(space + 1)));
        if (mark !== undefined) entry[mark[1]] ??= epochMs(line.slice(0, space));
      }
    });
  };
  let buffered = '';
  stream.on('data', (chunk: Buffer) => {
    buffered += chunk.toString('utf8');
    let end: number;
    while ((end = buffered.indexOf('\n')) >= 0) {
      const event = JSON.parse(buffered.slice(0, end)) as { Action: string; timeNano: number; Actor: { Attributes: Record<string, string> } };
      buffered = buffered.slice(end + 1);
      const name = event.Actor.Attributes.name ?? '';
      const entry = times.get(name) ?? {};
      if (event.Action === 'create' || event.Action === 'start') entry[event.Action] = event.timeNano / 1e6;
      times.set(name, entry);
      // A container removed before its logs are asked for gives no agent marks: that build has no phases.
      if (event.Action === 'start') followLogs(name, entry).catch(() => undefined);
    }
  });
  return { times, stop: () => streams.forEach((s) => s.destroy()) };
}

/** Docker's RFC 3339 timestamp with nanoseconds, as epoch ms with the sub-ms part kept. */
function epochMs(stamp: string): number {
  const match = /^(.*T\d\d:\d\d:\d\d)(\.\d+)?Z$/.exec(stamp);
  if (match === null) return Number.NaN;
  return Date.parse(`${match[1]}Z`) + Number(`0${match[2] ?? ''}`) * 1000;
}

async function containersOf(serverId: string): Promise<string[]> {
  return (await docker.listContainers({ all: true, filters: { label: [`slipway.server=${serverId}`] } })).map((c) => c.Id);
}

type Result = { row: Row; raw: Row | null; phases: Row | null; runtimeVolume: string | null };

async function runScenario(scenario: Scenario): Promise<Result> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'slipway-bench-docker-'));
  const repo = await oneLineRepo(dir);
  const template = { name: 'default', image: IMAGE, cpus: 1, memoryMiB: 512, maxAgents: 2, ...scenario.template };
  const engine = { kind: 'docker', name: 'bench', keepExitedMinutes: 0, stopGraceMs: 2000, imageTemplate: false, templates: [template] };
  const fileText = `logLevel: silent\nengines:\n  - ${JSON.stringify(engine)}\n`;
  const { server, home, api } = await startBenchServer(dir, fileText);
  const serverId = (await readFile(path.join(home, 'server-id'), 'utf8')).trim();
  const events = await followEvents(serverId);
  const newContainers = scenario.template.maxJobsPerAgent === 1;
  const samples: number[] = [];
  const triggerMs: number[] = [];
  const rawMs: number[] = [];
  const phases: Array<Record<string, number>> = [];
  let failedBuilds = 0;
  let runtimeVolume: string | null = null;
  try {
    await api('POST', '/api/v1/projects', { name: 'bench', repositoryUrl: repo });
    for (let i = 0; i < BUILDS + 1; i += 1) {
      const known = new Set(events.times.keys());
      const startedWall = wallNow();
      const { triggeredMs: triggered, firstByteMs, status } = await timeBuild(api, 'bench', POLL_MS);
      // (a): the used container must be gone, or the next build could find its agent still idle.
      if (newContainers) while ((await containersOf(serverId)).length > 0) await delay(10);
      if (i === 0) continue; // the warm-up build
      // The machine's load changes within minutes: a raw run after each build sees the same.
      if (newContainers) rawMs.push(...(await rawRuns(1, [IMAGE, 'true'])));
      if (status !== 'success') failedBuilds += 1;
      samples.push(firstByteMs);
      triggerMs.push(triggered);
      const fresh = [...events.times.entries()].filter(([name]) => !known.has(name));
      const t = fresh[0]?.[1];
      if (newContainers && fresh.length === 1 && t !== undefined) {
        const firstByte = startedWall + firstByteMs;
        const marks = [startedWall, t.create, t.start, t.connected, t.welcomed, t.jobStarted, firstByte];
        if (marks.every((mark) => mark !== undefined && Number.isFinite(mark))) {
          const [a = 0, b = 0, c = 0, d = 0, e = 0, f = 0, g = 0] = marks as number[];
          phases.push({ created: b - a, started: c - b, connected: d - c, welcomed: e - d, jobStarted: f - e, firstByte: g - f });
        }
      }
    }
  } finally {
    events.stop();
    await server.close();
    // The server leaves its agents running (a restart adopts them); a benchmark does not.
    for (const id of await containersOf(serverId)) {
      const container = docker.getContainer(id);
      // The volume the engine filled, for the rows that run its node without the server.
      runtimeVolume ??= (await container.inspect()).Mounts.find((mount) => mount.Destination === '/opt/slipway')?.Name ?? null;
      await container.remove({ force: true, v: true });
    }
    await rm(dir, { recursive: true, force: true });
  }
  const s = summarize(samples);
  const raw = summarize(rawMs);
  const row: Row = {
    scenario: scenario.name,
    builds: s.n,
    'p50 ms': s.p50,
    'p90 ms': s.p90,
    'mean ms': s.mean,
    'p50 / raw p50': newContainers ? round(s.p50 / raw.p50) : '',
    'trigger request p50 ms': summarize(triggerMs).p50,
    'failed builds': failedBuilds,
  };
  const p50 = (key: string) => summarize(phases.map((phase) => phase[key] ?? Number.NaN)).p50;
  const breakdown: Row | null =
    phases.length === 0
      ? null
      : {
          scenario: `${scenario.name}: p50 of each phase (${phases.length} builds)`,
          'trigger → created ms': p50('created'),
          'created → started ms': p50('started'),
          'started → agent connected ms': p50('connected'),
          'connected → welcomed ms': p50('welcomed'),
          'welcomed → job started ms': p50('jobStarted'),
          'job started → first byte ms': p50('firstByte'),
        };
  const rawRow = newContainers ? { scenario: `raw docker run --rm --network host ${IMAGE} true, one after each build`, builds: raw.n, 'p50 ms': raw.p50, 'p90 ms': raw.p90, 'mean ms': raw.mean } : null;
  return { row, raw: rawRow, phases: breakdown, runtimeVolume };
}

const reason = await unavailable();
if (reason !== null) {
  process.stdout.write(`docker-latency: skipped: ${reason}\n`);
} else {
  try {
    const rows: Row[] = [];
    const breakdowns: Row[] = [];
    let volume: string | null = null;
    for (const scenario of scenarios) {
      const result = await runScenario(scenario);
      if (result.raw !== null) rows.push(result.raw);
      rows.push(result.row);
      if (result.phases !== null) breakdowns.push(result.phases);
      volume ??= result.runtimeVolume;
    }
    // What the agent's start costs in a bare container: node alone, and node loading the bundle.
    if (volume !== null) {
      const mount = ['-v', `${volume}:/opt/slipway:ro`, '--entrypoint', '/opt/slipway/node', IMAGE];
      const node = summarize(await rawRuns(20, [...mount, '-e', '0']));
      const bundle = summarize(await rawRuns(20, [...mount, `/opt/slipway/${path.basename(AGENT_SCRIPT)}`, '--version']));
      rows.push({ scenario: 'raw docker run, runtime volume: node -e 0', builds: node.n, 'p50 ms': node.p50, 'p90 ms': node.p90, 'mean ms': node.mean });
      rows.push({ scenario: 'raw docker run, runtime volume: node agent-bundle --version', builds: bundle.n, 'p50 ms': bundle.p50, 'p90 ms': bundle.p90, 'mean ms': bundle.mean });
    }
    rows.push(...breakdowns);
    await report('docker-latency', `Trigger → first log byte stored, docker engine (${IMAGE}), beside raw docker run`, rows, [
      'targets: new container p50 <= 2x the raw docker run p50; idle agent p50 <= 35 ms',
      `log polled every ${POLL_MS} ms; each build runs to the end (and in the first scenario its container is gone) before the next is triggered`,
      'the raw docker runs are interleaved with the new-container builds (one after each), so that both see the same load',
          'phases: created and started from Docker events; connected, welcomed and job started from the daemon timestamps of the agent stderr lines (same host clock)',
      'started → connected is node start, bundle load and the WebSocket connect; job started → first byte is the first output reaching the stored log, plus the poll',
    ]);
  } finally {
    // Raw runs are --rm; a run killed half way may leave one.
    for (const c of await docker.listContainers({ all: true, filters: { label: ['slipway.bench=docker-latency'] } })) await docker.getContainer(c.Id).remove({ force: true });
  }
}
