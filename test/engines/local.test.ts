import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLocalEngine, localEngineConfigSchema, type AgentTemplate, type Engine, type LocalEngineConfig } from '../../src/engines/index.js';
import { isSlipwayError } from '../../src/errors/index.js';
import { tempDir } from '../support/git-repo.js';
import { fileExists, processAlive, waitFor } from '../support/wait.js';
import { engineConformance, type AgentRecord, type EngineHarness, type HarnessOptions } from './conformance.js';

const FAKE_AGENT = fileURLToPath(new URL('./fake-agent.js', import.meta.url));
const SERVER_ID = 'server-under-test';

const TEMPLATE: AgentTemplate = {
  name: 'fake',
  labels: ['linux', 'node'],
  cpus: 0.5,
  memoryMiB: 128,
  maxAgents: 4,
  minIdle: 0,
  idleMinutes: 5,
  maxJobsPerAgent: 0,
  attributes: {},
  image: null,
};

const stateDirs = new WeakMap<EngineHarness, string>();

async function makeLocal(options: HarnessOptions & { config?: Partial<LocalEngineConfig> } = {}): Promise<EngineHarness & { stateDir: string }> {
  const shared = options.sameStateAs === undefined ? undefined : stateDirs.get(options.sameStateAs);
  const temp = shared === undefined ? await tempDir('local-engine') : null;
  const stateDir = shared ?? temp?.dir ?? '';
  const engine = createLocalEngine({
    serverId: SERVER_ID,
    stateDir,
    agentCommand: [process.execPath, FAKE_AGENT],
    templates: [TEMPLATE],
    // Tests watch adopted tasks more often than a server needs to.
    livenessPollMs: 50,
    ...options.config,
    baseEnv: options.config?.baseEnv ?? process.env,
  });
  const harness = {
    engine,
    agentTemplate: TEMPLATE.name,
    sharedDir: stateDir,
    stateDir,
    agentAlive: async (record: AgentRecord) => processAlive(record.pid),
    async cleanup() {
      for (const task of await engine.list()) await engine.stop(task.id);
      await engine.close();
      await temp?.remove();
    },
  };
  stateDirs.set(harness, stateDir);
  return harness;
}

engineConformance('local', (options) => makeLocal(options));

async function withLocal(config: Partial<LocalEngineConfig>, test: (harness: Awaited<ReturnType<typeof makeLocal>>) => Promise<void>): Promise<void> {
  const harness = await makeLocal({ config });
  try {
    await test(harness);
  } finally {
    await harness.cleanup();
  }
}

function launchSpec(stateDir: string, name: string, env: Record<string, string> = {}) {
  return {
    agentName: name,
    template: TEMPLATE.name,
    serverUrl: 'http://127.0.0.1:9/',
    token: 'slipway_agent_secret-token-value',
    env: { FAKE_AGENT_RECORD: path.join(stateDir, `${name}.json`), ...env },
  };
}

async function recordOf(stateDir: string, name: string): Promise<AgentRecord> {
  const file = path.join(stateDir, `${name}.json`);
  await waitFor(`${name} to start`, () => fileExists(file));
  return JSON.parse(await readFile(file, 'utf8')) as AgentRecord;
}

function templateProblems(engine: () => Engine): string[] {
  try {
    engine();
  } catch (error) {
    assert.ok(isSlipwayError(error, 'CONFIG_INVALID'), String(error));
    return error.details as string[];
  }
  assert.fail('the configuration was accepted');
}

describe('the local engine', () => {
  it('treats a marker whose pid now belongs to another process as exited, and never signals that process', () =>
    withLocal({}, async ({ engine, stateDir }) => {
      // Stands for "the pid was reused": a live process whose start time is not the marker's.
      const other = spawn(process.execPath, [FAKE_AGENT], { detached: true, stdio: 'ignore' });
      const pid = other.pid ?? assert.fail('no pid');
      try {
        const taskId = 'local-00000000000000aa';
        const marker = { taskId, agentName: 'reused', template: TEMPLATE.name, serverId: SERVER_ID, pid, pidStartTime: '1', startedAt: Date.now(), exit: null };
        await mkdir(path.join(stateDir, 'tasks'), { recursive: true });
        await writeFile(path.join(stateDir, 'tasks', `${taskId}.json`), JSON.stringify(marker));
        const task = (await engine.list()).find((candidate) => candidate.id === taskId);
        assert.equal(task?.state, 'exited');
        await engine.stop(taskId);
        assert.equal(processAlive(pid), true, 'the unrelated process was not signalled');
        assert.equal(await fileExists(path.join(stateDir, 'tasks', `${taskId}.json`)), false);
      } finally {
        process.kill(-pid, 'SIGKILL');
        await waitFor('the stand-in process to end', () => !processAlive(pid));
      }
    }));

  it('never puts the token on the agent\'s command line, where every user could read it', () =>
    withLocal({}, async ({ engine, stateDir }) => {
      const spec = launchSpec(stateDir, 'argv-check');
      await engine.launch(spec);
      const record = await recordOf(stateDir, 'argv-check');
      const cmdline = await readFile(`/proc/${record.pid}/cmdline`, 'utf8');
      assert.ok(cmdline.includes('--server'), cmdline);
      assert.ok(!cmdline.includes(spec.token), 'the token is not in /proc/<pid>/cmdline');
      assert.ok(cmdline.split('\0').includes(path.join(stateDir, 'work', 'argv-check')), 'the work folder is passed');
      assert.ok(cmdline.split('\0').includes('linux,node'), 'the labels are passed');
    }));

  it('rejects a launch with ENGINE_UNAVAILABLE naming the agent command that does not exist', () =>
    withLocal({ agentCommand: ['/nonexistent/slipway-agent', 'x'] }, async ({ engine, stateDir }) => {
      await assert.rejects(engine.launch(launchSpec(stateDir, 'missing')), (error) => {
        assert.ok(isSlipwayError(error, 'ENGINE_UNAVAILABLE'), String(error));
        assert.match(error.message, /'\/nonexistent\/slipway-agent' does not exist/);
        assert.match(error.message, /set agentCommand of engine 'local'/);
        return true;
      });
      assert.deepEqual(await engine.list(), []);
    }));

  it('refuses templates with duplicate names or numbers that are not positive, listing every problem', () => {
    const base = { serverId: SERVER_ID, stateDir: '/tmp/unused', agentCommand: ['node'], baseEnv: {} };
    const problems = templateProblems(() =>
      createLocalEngine({ ...base, templates: [TEMPLATE, { ...TEMPLATE, cpus: 0, memoryMiB: -1 }, { ...TEMPLATE, name: 'x', minIdle: 9 }] }),
    );
    assert.equal(problems.length, 4, problems.join('\n'));
    assert.match(problems.join('\n'), /'fake' is used by another template/);
    assert.match(problems.join('\n'), /templates\[1\] \(fake\)\.cpus: must be a number above 0, got 0/);
    assert.match(problems.join('\n'), /templates\[1\] \(fake\)\.memoryMiB: must be a number above 0, got -1/);
    assert.match(problems.join('\n'), /templates\[2\] \(x\)\.minIdle: 9 is more than maxAgents \(4\)/);
  });

  it('refuses a relative state folder and an empty template list', () => {
    const problems = templateProblems(() => createLocalEngine({ serverId: SERVER_ID, stateDir: 'state', agentCommand: ['node'], templates: [], baseEnv: {} }));
    assert.deepEqual(problems, ['templates: add at least one agent template', "stateDir: must be an absolute path, got 'state'"]);
  });

  it('fills template defaults from the configuration schema and reports what to fix', () => {
    const settings = localEngineConfigSchema.parse({ templates: [{ name: 'small', labels: ['linux'] }] });
    assert.deepEqual(settings, {
      name: 'local',
      templates: [{ name: 'small', labels: ['linux'], cpus: 1, memoryMiB: 1024, maxAgents: 4, minIdle: 0, idleMinutes: 5, maxJobsPerAgent: 0, attributes: {}, image: null }],
      stopGraceMs: 10_000,
      keepLogMinutes: 60,
    });
    assert.equal(localEngineConfigSchema.parse({}).templates[0]?.name, 'default');
    const invalid = localEngineConfigSchema.safeParse({ templates: [{ name: 'a' }, { name: 'a', cpu: 2 }] });
    assert.equal(invalid.success, false);
    const messages = invalid.error?.issues.map((issue) => issue.message).join('\n') ?? '';
    assert.match(messages, /cpu/);
    const duplicate = localEngineConfigSchema.safeParse({ templates: [{ name: 'a' }, { name: 'a', cpus: 0 }] });
    assert.match(duplicate.error?.issues.map((issue) => issue.message).join('\n') ?? '', /'a' is used by another template[\s\S]*cpus: must be a number above 0/);
  });

  it('starts agents with a few variables of the server\'s environment, never its secrets', () =>
    withLocal({ baseEnv: { PATH: process.env.PATH, HOME: '/home/server-user', SLIPWAY_DATABASE_PASSWORD: 'server-secret' } }, async ({ engine, stateDir }) => {
      const { taskId } = await engine.launch(launchSpec(stateDir, 'inherits'));
      const record = await recordOf(stateDir, 'inherits');
      await engine.stop(taskId);
      assert.equal(record.env.HOME, '/home/server-user');
      assert.equal(record.env.PATH, process.env.PATH);
      assert.equal(record.env.SLIPWAY_DATABASE_PASSWORD, undefined);
    }));

  it('kills an agent that ignores SIGTERM once the grace period is over', () =>
    withLocal({ stopGraceMs: 100 }, async ({ engine, stateDir }) => {
      const { taskId } = await engine.launch(launchSpec(stateDir, 'stubborn', { FAKE_AGENT_IGNORE_SIGTERM: '1' }));
      const record = await recordOf(stateDir, 'stubborn');
      await engine.stop(taskId);
      assert.equal(processAlive(record.pid), false);
    }));

  it('kills the process groups an agent it had to SIGKILL recorded for its jobs', () =>
    withLocal({ stopGraceMs: 100 }, async ({ engine, stateDir }) => {
      const { taskId } = await engine.launch(launchSpec(stateDir, 'killed-with-job', { FAKE_AGENT_IGNORE_SIGTERM: '1', FAKE_AGENT_JOB_GROUP: '1' }));
      const record = (await recordOf(stateDir, 'killed-with-job')) as AgentRecord & { jobPid: number | null };
      assert.ok(record.jobPid !== null && processAlive(record.jobPid), 'the job group runs');
      try {
        await engine.stop(taskId);
        assert.equal(processAlive(record.pid), false);
        assert.equal(processAlive(record.jobPid), false, 'the job group is gone when stop() resolves');
      } finally {
        if (processAlive(record.jobPid)) process.kill(-record.jobPid, 'SIGKILL');
      }
    }));

  it('keeps the exit code in the marker, so a new instance lists it', () =>
    withLocal({}, async (harness) => {
      const events: number[] = [];
      harness.engine.onTaskEvent((event) => events.push(event.exitCode ?? -1));
      const { taskId } = await harness.engine.launch(launchSpec(harness.stateDir, 'exits', { FAKE_AGENT_EXIT_CODE: '7', FAKE_AGENT_EXIT_AFTER_MS: '0' }));
      await waitFor('the exit to be reported', () => events.length > 0);
      const second = await makeLocal({ sameStateAs: harness });
      try {
        const task = (await second.engine.list()).find((candidate) => candidate.id === taskId);
        assert.deepEqual({ state: task?.state, exitCode: task?.exitCode, reason: task?.reason }, { state: 'exited', exitCode: 7, reason: 'exited' });
      } finally {
        await second.engine.close();
      }
    }));

  it('appends agent output to a log that outlives stop() until keepLogMinutes have passed', () =>
    withLocal({}, async (harness) => {
      const { taskId } = await harness.engine.launch(launchSpec(harness.stateDir, 'logged'));
      const log = path.join(harness.stateDir, 'tasks', `${taskId}.log`);
      await waitFor('the agent output in the log', async () => (await readFile(log, 'utf8')).includes('fake agent'));
      await harness.engine.stop(taskId);
      assert.equal(await fileExists(log), true);
      const later = await makeLocal({ sameStateAs: harness, config: { clock: () => Date.now() + 61 * 60_000 } });
      try {
        const { taskId: next } = await later.engine.launch(launchSpec(harness.stateDir, 'next'));
        assert.equal(await fileExists(log), false);
        await later.engine.stop(next);
      } finally {
        await later.engine.close();
      }
    }));

  it('offers this host less what its running agents\' templates reserve', () =>
    withLocal({}, async ({ engine, stateDir }) => {
      const [before] = await engine.capacity();
      const { taskId } = await engine.launch(launchSpec(stateDir, 'reserving'));
      const [during] = await engine.capacity();
      assert.ok(before && during);
      assert.equal(during.host, before.host);
      assert.deepEqual(during.attributes, { hostname: before.host, os: 'linux', arch: process.arch });
      assert.equal(before.cpus - during.cpus, TEMPLATE.cpus);
      assert.equal(before.memoryMiB - during.memoryMiB, TEMPLATE.memoryMiB);
      await engine.stop(taskId);
      assert.deepEqual(await engine.capacity(), [before]);
    }));

  it('rejects an agent name that is not safe as a folder name', () =>
    withLocal({}, async ({ engine, stateDir }) => {
      await assert.rejects(engine.launch(launchSpec(stateDir, '../escape')), (error) => isSlipwayError(error, 'USAGE'));
    }));
});
