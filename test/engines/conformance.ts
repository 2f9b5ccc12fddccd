import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import type { Engine, EngineTask, LaunchSpec, TaskEvent } from '../../src/engines/index.js';
import { isSlipwayError } from '../../src/errors/index.js';
import { waitFor } from '../support/wait.js';

/**
 * The Engine contract (src/engines/types.ts) as tests every engine must pass: local now,
 * docker and swarm with the Docker issue. The agents are test/engines/fake-agent.js,
 * started by the engine under test with the agent command its harness configured.
 */

/** What the fake agent writes to FAKE_AGENT_RECORD. */
export type AgentRecord = { argv: string[]; env: Record<string, string>; pid: number };

export type EngineHarness = {
  engine: Engine;
  /** A template of the engine that starts the fake agent. */
  agentTemplate: string;
  /** A folder the tests and the agents see at this same path (a bind mount for containers). */
  sharedDir: string;
  /** Whether the agent that wrote record still runs, asked of the infrastructure itself. */
  agentAlive(record: AgentRecord): Promise<boolean>;
  /** Stops what is left, closes the engine, removes what the harness made. */
  cleanup(): Promise<void>;
};

export type HarnessOptions = {
  /** A new engine instance on the same backing state as this one: a server restart. */
  sameStateAs?: EngineHarness;
};

export type MakeHarness = (options?: HarnessOptions) => Promise<EngineHarness>;

const SERVER_URL = 'http://127.0.0.1:9/';
let launches = 0;

type Launch = { spec: LaunchSpec; record: string; exitFile: string };

function newLaunch(harness: EngineHarness, env: Record<string, string> = {}): Launch {
  launches += 1;
  const agentName = `conformance-${process.pid}-${launches}-${randomBytes(3).toString('hex')}`;
  const record = path.join(harness.sharedDir, `${agentName}.json`);
  const exitFile = path.join(harness.sharedDir, `${agentName}.exit`);
  return {
    spec: {
      agentName,
      template: harness.agentTemplate,
      serverUrl: SERVER_URL,
      token: `slipway_agent_${randomBytes(12).toString('hex')}`,
      env: { FAKE_AGENT_RECORD: record, ...env },
    },
    record,
    exitFile,
  };
}

async function readRecord(file: string): Promise<AgentRecord> {
  return waitFor(`the agent to write ${file}`, async () => {
    const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') return undefined; // not started yet
      throw error;
    });
    return text === undefined ? undefined : (JSON.parse(text) as AgentRecord);
  });
}

async function taskIn(engine: Engine, taskId: string): Promise<EngineTask | undefined> {
  return (await engine.list()).find((task) => task.id === taskId);
}

function collectEvents(engine: Engine): { events: TaskEvent[]; of(taskId: string): TaskEvent[]; stop(): void } {
  const events: TaskEvent[] = [];
  const stop = engine.onTaskEvent((event) => events.push(event));
  return { events, of: (taskId) => events.filter((event) => event.taskId === taskId), stop };
}

async function withHarness(make: MakeHarness, test: (harness: EngineHarness) => Promise<void>): Promise<void> {
  const harness = await make();
  try {
    await test(harness);
  } finally {
    await harness.cleanup();
  }
}

export function engineConformance(name: string, make: MakeHarness): void {
  describe(`the ${name} engine (conformance)`, () => {
    it('lists a launched task as running, with its agent name and template', () =>
      withHarness(make, async (harness) => {
        const { engine, agentTemplate } = harness;
        const launch = newLaunch(harness);
        const { taskId } = await engine.launch(launch.spec);
        const task = await taskIn(engine, taskId);
        assert.ok(task, 'the launched task is listed');
        assert.equal(task.state === 'running' || task.state === 'starting', true, `state is ${task.state}`);
        assert.equal(task.agentName, launch.spec.agentName);
        assert.equal(task.template, agentTemplate);
        assert.equal(task.exitCode, null);
      }));

    it('starts the agent with its server, name, environment and token, keeping the token out of its arguments', () =>
      withHarness(make, async (harness) => {
        const launch = newLaunch(harness, { CONFORMANCE_EXTRA: 'extra value' });
        const { taskId } = await harness.engine.launch(launch.spec);
        const record = await readRecord(launch.record);
        const argv = record.argv.join(' ');
        assert.match(argv, /(^| )agent( |$)/);
        assert.ok(argv.includes(`--server ${SERVER_URL}`), argv);
        assert.ok(argv.includes(`--name ${launch.spec.agentName}`), argv);
        assert.ok(!record.argv.some((arg) => arg.includes(launch.spec.token)), 'the token is not in argv');
        assert.equal(record.env.SLIPWAY_AGENT_TOKEN, launch.spec.token);
        assert.equal(record.env.SLIPWAY_ENGINE_NAME, harness.engine.name);
        assert.equal(record.env.SLIPWAY_ENGINE_TASK_ID, taskId);
        assert.equal(record.env.CONFORMANCE_EXTRA, 'extra value');
      }));

    it('stops a task: it leaves the list or shows as exited, and its agent is dead', () =>
      withHarness(make, async (harness) => {
        const launch = newLaunch(harness);
        const { taskId } = await harness.engine.launch(launch.spec);
        const record = await readRecord(launch.record);
        assert.equal(await harness.agentAlive(record), true);
        await harness.engine.stop(taskId);
        const task = await taskIn(harness.engine, taskId);
        assert.ok(task === undefined || task.state === 'exited', `state is ${task?.state}`);
        assert.equal(await harness.agentAlive(record), false);
      }));

    it('stops the same task twice at once and once more afterwards without an error', () =>
      withHarness(make, async (harness) => {
        const launch = newLaunch(harness);
        const { taskId } = await harness.engine.launch(launch.spec);
        const record = await readRecord(launch.record);
        await Promise.all([harness.engine.stop(taskId), harness.engine.stop(taskId)]);
        await harness.engine.stop(taskId);
        assert.equal(await harness.agentAlive(record), false);
      }));

    it('succeeds when asked to stop a task it does not know', () =>
      withHarness(make, async ({ engine }) => {
        await engine.stop('no-such-task');
        await engine.stop(`${engine.kind}-0000000000000000`);
        await engine.stop('../../etc/passwd');
      }));

    it('rejects a launch for a template it does not have, naming the ones it has', () =>
      withHarness(make, async (harness) => {
        const launch = newLaunch(harness);
        await assert.rejects(harness.engine.launch({ ...launch.spec, template: 'no-such-template' }), (error) => {
          assert.ok(isSlipwayError(error, 'USAGE'), String(error));
          assert.match(error.message, /no-such-template/);
          assert.ok(error.message.includes(harness.agentTemplate), error.message);
          return true;
        });
      }));

    it('reports a task that exits by itself exactly once, with its exit code', () =>
      withHarness(make, async (harness) => {
        const { engine } = harness;
        const events = collectEvents(engine);
        const first = newLaunch(harness, { FAKE_AGENT_EXIT_CODE: '3' });
        first.spec.env.FAKE_AGENT_EXIT_WHEN = first.exitFile;
        const { taskId } = await engine.launch(first.spec);
        await readRecord(first.record);
        await writeFile(first.exitFile, '');
        const event = await waitFor('the exited event', () => events.of(taskId)[0]);
        assert.deepEqual({ ...event, reason: null }, { taskId, agentName: first.spec.agentName, state: 'exited', exitCode: 3, reason: null });
        const listed = await taskIn(engine, taskId);
        assert.ok(listed === undefined || (listed.state === 'exited' && listed.exitCode === 3), JSON.stringify(listed));

        // An agent that exits at once, before launch() could have resolved, is reported too;
        // its event also shows that no second one came for the first task meanwhile.
        const second = newLaunch(harness, { FAKE_AGENT_EXIT_CODE: '0', FAKE_AGENT_EXIT_AFTER_MS: '0' });
        const { taskId: secondId } = await engine.launch(second.spec);
        const secondEvent = await waitFor('the second exited event', () => events.of(secondId)[0]);
        assert.equal(secondEvent.exitCode, 0);
        await engine.list();
        assert.equal(events.of(taskId).length, 1);
        assert.equal(events.of(secondId).length, 1);
        events.stop();
      }));

    it('finds the running tasks of an earlier instance on the same state, and stops them (a restart)', async () => {
      const first = await make();
      try {
        const launch = newLaunch(first);
        const { taskId } = await first.engine.launch(launch.spec);
        const record = await readRecord(launch.record);
        const second = await make({ sameStateAs: first });
        try {
          const task = await taskIn(second.engine, taskId);
          assert.ok(task, 'the new instance lists the task');
          assert.equal(task.state, 'running');
          assert.equal(task.agentName, launch.spec.agentName);
          assert.equal(task.template, first.agentTemplate);
          await second.engine.stop(taskId);
          assert.equal(await first.agentAlive(record), false);
          const after = await taskIn(first.engine, taskId);
          assert.ok(after === undefined || after.state === 'exited');
        } finally {
          await second.cleanup();
        }
      } finally {
        await first.cleanup();
      }
    });

    it('reports an adopted task that exits by itself exactly once', async () => {
      const first = await make();
      try {
        const launch = newLaunch(first, { FAKE_AGENT_EXIT_CODE: '5' });
        launch.spec.env.FAKE_AGENT_EXIT_WHEN = launch.exitFile;
        const { taskId } = await first.engine.launch(launch.spec);
        await readRecord(launch.record);
        const second = await make({ sameStateAs: first });
        try {
          const events = collectEvents(second.engine);
          assert.equal((await taskIn(second.engine, taskId))?.state, 'running');
          await writeFile(launch.exitFile, '');
          const event = await waitFor('the adopted task to be reported', () => events.of(taskId)[0], 20_000);
          assert.equal(event.agentName, launch.spec.agentName);
          // The exit code is known where the infrastructure keeps it; a process's, only to its parent.
          assert.ok(event.exitCode === 5 || event.exitCode === null, `exit code ${event.exitCode}`);
          await second.engine.list();
          assert.equal(events.of(taskId).length, 1);
          events.stop();
        } finally {
          await second.cleanup();
        }
      } finally {
        await first.cleanup();
      }
    });

    it('offers room on at least one host, in whole, non-negative numbers', () =>
      withHarness(make, async ({ engine }) => {
        const offers = await engine.capacity();
        assert.ok(offers.length >= 1);
        for (const offer of offers) {
          assert.ok(offer.host.length > 0);
          assert.ok(Number.isFinite(offer.cpus) && offer.cpus >= 0, `cpus ${offer.cpus}`);
          assert.ok(Number.isInteger(offer.memoryMiB) && offer.memoryMiB >= 0, `memoryMiB ${offer.memoryMiB}`);
          for (const value of Object.values(offer.attributes)) assert.equal(typeof value, 'string');
        }
      }));

    it('leaves its tasks running when it is closed', async () => {
      const first = await make();
      try {
        const launch = newLaunch(first);
        const { taskId } = await first.engine.launch(launch.spec);
        const record = await readRecord(launch.record);
        await first.engine.close();
        assert.equal(await first.agentAlive(record), true);
        const second = await make({ sameStateAs: first });
        try {
          assert.equal((await taskIn(second.engine, taskId))?.state, 'running');
          await second.engine.stop(taskId);
          assert.equal(await first.agentAlive(record), false);
        } finally {
          await second.cleanup();
        }
      } finally {
        await first.cleanup();
      }
    });
  });
}
