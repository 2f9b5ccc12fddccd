import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { createLocalEngine, type AgentTemplate, type TaskEvent } from '../../src/engines/index.js';
import { makeJob, makeWorld, type World } from '../agent/helpers.js';
import { slipwayBin } from '../cli/cli.js';
import { processAlive, waitFor } from '../support/wait.js';

const TEMPLATE: AgentTemplate = {
  name: 'real',
  labels: [],
  cpus: 0.5,
  memoryMiB: 128,
  maxAgents: 1,
  minIdle: 0,
  idleMinutes: 5,
  maxJobsPerAgent: 0,
  attributes: {},
  image: null,
};

/** Far longer than the test's own timeout: a stop() that waited for it would fail the test. */
const STOP_GRACE_MS = 3_600_000;

async function pidsIn(file: string): Promise<number[]> {
  const text = await readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
  return text.split('\n').filter((line) => line !== '').map(Number);
}

describe('the local engine with a real agent', () => {
  let world: World;
  beforeEach(async () => {
    world = await makeWorld();
  });
  afterEach(async () => {
    await world.close();
  });

  it('stops an agent that runs a job at once, and nothing the job started outlives stop()', { timeout: 120_000 }, async () => {
    const engine = createLocalEngine({
      serverId: 'stop-test',
      stateDir: path.join(world.dir, 'engine'),
      agentCommand: [process.execPath, slipwayBin],
      templates: [TEMPLATE],
      stopGraceMs: STOP_GRACE_MS,
      baseEnv: { PATH: process.env.PATH ?? '/usr/bin:/bin' },
    });
    const events: TaskEvent[] = [];
    engine.onTaskEvent((event) => events.push(event));
    const pidFile = path.join(world.dir, 'pids');
    let pids: number[] = [];
    let taskId: string | null = null;
    try {
      ({ taskId } = await engine.launch({ agentName: 'stopped-mid-job', template: TEMPLATE.name, serverUrl: world.peer.url, token: world.peer.agentToken, env: {} }));
      const { attemptId } = await world.peer.assign({
        job: makeJob({
          script: [
            `sleep 1000 & echo $! >> ${pidFile}`,
            // A child of the step that starts its own child: the whole tree must go.
            `sh -c "sleep 1000 & echo \\$! >> ${pidFile}; wait" & echo $! >> ${pidFile}`,
            'wait',
          ],
        }),
        repository: world.repo.dir,
        commit: world.repo.commit,
      });
      pids = await waitFor('the job to start its three processes', async () => {
        const found = await pidsIn(pidFile);
        return found.length === 3 ? found : undefined;
      }, 60_000);
      assert.ok(pids.every(processAlive), 'the job runs');

      await engine.stop(taskId);

      assert.deepEqual(pids.filter(processAlive), [], 'every process of the job is gone when stop() resolves');
      // The agent ended on its own (exit 0), not by the SIGKILL after the grace period. It
      // sent the job's output and why it ended, but no result: the server counts the
      // attempt lost, as when a container engine removes an agent's container.
      await waitFor('the exit event', () => events.length > 0);
      assert.deepEqual(events.map((event) => [event.exitCode, event.reason]), [[0, 'stopped']]);
      await waitFor('the reason in the job log', async () => /stopped by its engine/.test(await world.peer.log(attemptId)));
      assert.equal(world.peer.results.has(attemptId), false);
    } finally {
      for (const pid of pids) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
      if (taskId !== null) await engine.stop(taskId);
      await engine.close();
    }
  });
});
