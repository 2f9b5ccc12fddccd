import assert from 'node:assert/strict';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { pino } from 'pino';
import { runAgent, silentLogger } from '../../../src/agent/index.js';
import { createLocalEngine, DEFAULT_TEMPLATE } from '../../../src/engines/index.js';
import type { AgentServer } from '../../../src/server/agents/index.js';
import { createFleet } from '../../../src/server/provisioning/index.js';
import { openStore } from '../../../src/store/index.js';
import { tempDir } from '../../support/git-repo.js';
import { processAlive, waitFor } from '../../support/wait.js';
import { agentProcesses, finished, startEngineServer, type EngineServer } from '../provisioning/helpers.js';

type AgentItem = {
  id: number | null;
  name: string;
  engine: string | null;
  template: string | null;
  image: string | null;
  state: string;
  labels: string[];
  capacity: { cpus: number; memoryMiB: number };
  version: string | null;
  connectedAt: number | null;
  jobs: Array<{ jobId: number; jobName: string; buildId: number; buildNumber: number; project: string }>;
};
type EngineItem = { name: string; kind: string; templates: Array<{ name: string; labels: string[]; image: string | null; cpus: number; memoryMiB: number; maxAgents: number; minIdle: number; idleMinutes: number; maxJobsPerAgent: number; counts: Record<string, number> }> };
type Stats = {
  queue: { length: number; oldestWaitMs: number | null; waitP50Ms: number | null; waitP90Ms: number | null; startedLastHour: number };
  agents: Array<{ engine: string | null; template: string | null; provisioning: number; idle: number; busy: number; unreachable: number }>;
  capacity: Array<{ at: number; busy: number; idle: number; provisioning: number; cpusInUse: number; memoryMiBInUse: number }>;
};

// Two local engines: `fast` runs real agents for jobs labelled fast; `stuck` keeps one warm
// agent whose command never connects, so it stays provisioning for the whole test.
const config = (release: string) => `logLevel: silent
engines:
  - kind: local
    name: fast
    stopGraceMs: 5000
    templates:
      - { name: default, labels: [fast], cpus: 0.5, memoryMiB: 256, maxAgents: 1, minIdle: 0, idleMinutes: 5 }
  - kind: local
    name: stuck
    stopGraceMs: 2000
    agentCommand: [${JSON.stringify(process.execPath)}, "-e", "setInterval(() => {}, 1000)"]
    templates:
      - { name: warm, labels: [stuck], cpus: 0.25, memoryMiB: 128, maxAgents: 1, minIdle: 1, idleMinutes: 5 }
# ${release}
`;

async function stopEngineAgents(home: string): Promise<void> {
  const serverId = (await readFile(path.join(home, 'server-id'), 'utf8')).trim();
  for (const name of ['fast', 'stuck']) {
    const stateDir = path.join(home, 'engines', name);
    const pids = (await agentProcesses(stateDir)).map((task) => task.pid);
    const engine = createLocalEngine({ name, serverId, stateDir, agentCommand: ['true'], templates: [DEFAULT_TEMPLATE], stopGraceMs: 2000, baseEnv: process.env });
    try {
      for (const task of await engine.list()) await engine.stop(task.id);
    } finally {
      await engine.close();
    }
    await waitFor(`the ${name} engine's agents to end`, () => pids.every((pid) => !processAlive(pid)));
  }
}

describe('the agent, engine and stats views of a running server', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });

  it('shows connected agents with their jobs, agents being provisioned, per-template counts and queue waits', { timeout: 120_000 }, async () => {
    const { dir, remove } = await tempDir('fleet');
    cleanups.push(remove);
    const release = path.join(dir, 'release');
    const s: EngineServer = await startEngineServer({ dir, fileText: config(release) });
    cleanups.push(async () => {
      await s.close();
      await stopEngineAgents(s.home);
    });

    // An agent started by hand, in this process.
    const agentToken = (await s.api<{ token: string }>('POST', '/api/v1/agent-tokens', { name: 'by hand' })).token;
    const abort = new AbortController();
    await mkdir(path.join(dir, 'hand'), { recursive: true });
    const hand = runAgent({
      serverUrl: s.url,
      token: agentToken,
      name: 'hand-1',
      labels: ['hand'],
      capacity: { cpus: 2, memoryMiB: 2048, jobs: 1 },
      workDir: path.join(dir, 'hand'),
      maxJobs: 0,
      signal: abort.signal,
      baseEnv: process.env,
      log: silentLogger,
      reconnect: { baseMs: 20, capMs: 200 },
    });
    cleanups.push(async () => {
      abort.abort();
      await hand;
    });

    const wait = `script:\n    - while [ ! -e ${release} ]; do sleep 0.05; done`;
    const project = await s.project({ '.slipway.yml': `slow:\n  labels: [fast]\n  ${wait}\nbyhand:\n  labels: [hand]\n  ${wait}\n` });
    const build = await s.trigger(project);

    const agents = await waitFor(
      'both running jobs and the stuck agent to show',
      async () => {
        const { items } = await s.api<{ items: AgentItem[] }>('GET', '/api/v1/agents');
        const busy = items.filter((agent) => agent.state === 'busy' && agent.jobs.length === 1);
        return busy.length === 2 && items.some((agent) => agent.engine === 'stuck') ? items : undefined;
      },
      60_000,
    );
    const fast = agents.find((agent) => agent.engine === 'fast');
    assert.ok(fast !== undefined, JSON.stringify(agents));
    assert.equal(typeof fast.id, 'number');
    assert.equal(fast.template, 'default');
    assert.equal(fast.image, null, 'the local engine runs no images');
    assert.deepEqual(fast.labels, ['fast']);
    assert.equal(typeof fast.version, 'string');
    assert.equal(typeof fast.connectedAt, 'number');
    assert.deepEqual(fast.jobs.map((job) => [job.jobName, job.buildId, job.buildNumber, job.project]), [['slow', build.id, 1, project]]);

    const byHand = agents.find((agent) => agent.name === 'hand-1');
    assert.ok(byHand !== undefined);
    assert.equal(byHand.engine, null);
    assert.equal(byHand.template, null);
    assert.deepEqual(byHand.labels, ['hand']);
    assert.deepEqual(byHand.capacity, { cpus: 2, memoryMiB: 2048 });
    assert.deepEqual(byHand.jobs.map((job) => job.jobName), ['byhand']);

    const stuck = agents.find((agent) => agent.engine === 'stuck');
    assert.deepEqual(stuck && { ...stuck, name: 'x' }, {
      id: null,
      name: 'x',
      engine: 'stuck',
      template: 'warm',
      image: null,
      state: 'provisioning',
      labels: ['stuck'],
      capacity: { cpus: 0.25, memoryMiB: 128 },
      version: null,
      connectedAt: null,
      jobs: [],
    });

    const engines = (await s.api<{ items: EngineItem[] }>('GET', '/api/v1/engines')).items;
    assert.deepEqual(engines.map((engine) => [engine.name, engine.kind]), [['fast', 'local'], ['stuck', 'local']]);
    assert.deepEqual(engines[0]?.templates, [
      { name: 'default', labels: ['fast'], image: null, cpus: 0.5, memoryMiB: 256, maxAgents: 1, minIdle: 0, idleMinutes: 5, maxJobsPerAgent: 0, counts: { provisioning: 0, idle: 0, busy: 1 } },
    ]);
    assert.deepEqual(engines[1]?.templates[0]?.counts, { provisioning: 1, idle: 0, busy: 0 });

    const stats = await s.api<Stats>('GET', '/api/v1/stats');
    assert.equal(stats.queue.length, 0);
    assert.equal(stats.queue.oldestWaitMs, null);
    assert.ok(stats.queue.startedLastHour >= 2, JSON.stringify(stats.queue));
    assert.equal(typeof stats.queue.waitP50Ms, 'number');
    assert.ok((stats.queue.waitP90Ms ?? -1) >= (stats.queue.waitP50Ms ?? 0));
    assert.deepEqual(stats.agents, [
      { engine: 'fast', template: 'default', provisioning: 0, idle: 0, busy: 1, unreachable: 0 },
      { engine: 'stuck', template: 'warm', provisioning: 1, idle: 0, busy: 0, unreachable: 0 },
      { engine: null, template: null, provisioning: 0, idle: 0, busy: 1, unreachable: 0 },
    ]);
    assert.ok(Array.isArray(stats.capacity));

    const recent = (await s.api<{ items: Array<{ id: number; project: string; status: string }> }>('GET', `/api/v1/builds?project=${project}`)).items;
    assert.deepEqual(recent.map((item) => [item.id, item.project, item.status]), [[build.id, project, 'running']]);

    await writeFile(release, 'go\n');
    const done = await s.waitForBuild(build.id, (b) => finished(b.status), 'the build to finish');
    assert.equal(done.status, 'success', JSON.stringify(done.jobs));
    await waitFor('the fast agent to be idle with no job', async () => {
      const { items } = await s.api<{ items: AgentItem[] }>('GET', '/api/v1/agents');
      const agent = items.find((item) => item.engine === 'fast');
      return agent?.state === 'idle' && agent.jobs.length === 0;
    });
  });
});

describe('capacity samples', () => {
  it('samples the agents by state with the resources their templates hold, stores them and keeps only the last hour', async () => {
    let clock = 1_000_000;
    // The point is the sampler: an agent endpoint with one busy hand-started agent stands in.
    const endpoint = {
      agentStates: () => [{ agentId: 7, name: 'hand', ready: true, busy: true }],
      onAgentEvent: () => () => undefined,
    } as unknown as AgentServer;
    const template = { ...DEFAULT_TEMPLATE, name: 'warm', cpus: 0.1, memoryMiB: 100 };
    const engine = { name: 'e', kind: 'local', templates: [template] } as unknown as Parameters<ReturnType<typeof createFleet>['attach']>[0]['engines'][number];
    const provisioned = [
      { name: 'e-1', engine: 'e', template: 'warm', state: 'provisioning' as const, launchedAt: clock, connectedAt: null, image: null },
      { name: 'e-2', engine: 'e', template: 'warm', state: 'provisioning' as const, launchedAt: clock, connectedAt: null, image: null },
      { name: 'e-3', engine: 'e', template: 'warm', state: 'provisioning' as const, launchedAt: clock, connectedAt: null, image: null },
      // Connected once, and its connection is gone now.
      { name: 'e-4', engine: 'e', template: 'warm', state: 'idle' as const, launchedAt: clock, connectedAt: clock, image: null },
    ];
    const { dir, remove } = await tempDir('fleet');
    const store = await openStore({ url: `sqlite:${path.join(dir, 'slipway.db')}`, logger: pino({ level: 'silent' }) });
    const errors: unknown[] = [];
    const fleet = createFleet({ agents: endpoint, samples: store.capacitySamples, onError: (error) => errors.push(error), now: () => clock, sampleIntervalMs: 3_600_000, keepMs: 60 * 60_000 });
    try {
      assert.deepEqual(await fleet.sample(), { at: clock, busy: 1, idle: 0, provisioning: 0, cpusInUse: 0, memoryMiBInUse: 0 }, 'before the engines start only connected agents count');
      fleet.attach({ engines: [engine], provisioner: { poke: () => undefined, sweep: async () => undefined, close: async () => undefined, agents: () => provisioned } });
      clock += 15_000;
      assert.deepEqual(await fleet.sample(), { at: clock, busy: 1, idle: 0, provisioning: 3, cpusInUse: 0.4, memoryMiBInUse: 400 });
      assert.deepEqual(
        fleet.agents().map((agent) => [agent.name, agent.agentId, agent.engine, agent.state]),
        [['hand', 7, null, 'busy'], ['e-1', null, 'e', 'provisioning'], ['e-2', null, 'e', 'provisioning'], ['e-3', null, 'e', 'provisioning'], ['e-4', null, 'e', 'unreachable']],
      );
      assert.deepEqual(fleet.engines()[0]?.templates[0]?.counts, { provisioning: 3, idle: 0, busy: 0 });
      clock += 60 * 60_000;
      await fleet.sample();
      assert.deepEqual((await store.capacitySamples.since(0)).map((sample) => sample.at), [1_015_000, clock], 'the sample older than an hour is gone');
      assert.deepEqual(errors, []);
    } finally {
      await fleet.close();
      await fleet.close();
      await store.close();
      await remove();
    }
  });
});
