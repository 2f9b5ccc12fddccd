import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { readFile } from 'node:fs/promises';
import { processAlive, waitFor } from '../support/wait.js';
import { makeJob, makeWorld, type World } from './helpers.js';

const slipwayBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../bin/slipway.js');

/** Starts the real `slipway agent`; the token travels in the environment, as engines pass it. */
function startAgentProcess(world: World, args: string[], options: { byEngine: boolean } = { byEngine: true }) {
  const engineEnv = options.byEngine ? { SLIPWAY_ENGINE_NAME: 'local', SLIPWAY_ENGINE_TASK_ID: 'task-1' } : {};
  const child = spawn(process.execPath, [slipwayBin, 'agent', '--server', world.peer.url, '--work-dir', path.join(world.dir, 'agent'), ...args], {
    cwd: world.dir,
    env: { ...process.env, SLIPWAY_AGENT_TOKEN: world.peer.agentToken, ...engineEnv },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code, signal) => resolve({ code, signal }));
  });
  return { child, exited, stderr: () => stderr };
}

describe('slipway agent', () => {
  let world: World;
  beforeEach(async () => {
    world = await makeWorld();
  });
  afterEach(async () => {
    await world.close();
  });

  it('connects, runs a job and exits gracefully on SIGTERM', async () => {
    const agent = startAgentProcess(world, ['--name', 'builder-1', '--labels', 'linux, docker', '--cpus', '2', '--memory-mib', '512']);
    try {
      const { attemptId } = await world.peer.assign({
        job: makeJob({ script: ['echo from a real agent process', 'env'] }),
        repository: world.repo.dir,
        commit: world.repo.commit,
      });
      const result = await world.peer.waitForResult(attemptId);
      assert.equal(result.status, 'success', agent.stderr());
      const log = await world.peer.log(attemptId);
      assert.match(log, /^from a real agent process$/m);
      // The agent's own environment (its token above all) does not reach the job.
      assert.doesNotMatch(log, /SLIPWAY_AGENT_TOKEN|SLIPWAY_ENGINE_TASK_ID/);
      assert.doesNotMatch(log, new RegExp(world.peer.agentToken));
      const hello = world.peer.hellos[0];
      assert.equal(hello?.name, 'builder-1');
      assert.deepEqual(hello?.labels, ['linux', 'docker']);
      assert.deepEqual(hello?.capacity, { cpus: 2, memoryMiB: 512, jobs: 1 });
      assert.deepEqual(hello?.engine, { name: 'local', taskId: 'task-1' });
      assert.match(hello?.version ?? '', /^\d+\.\d+\.\d+/);
      await waitFor('the slot to be free again', () => world.peer.readies.length >= 2);
      agent.child.kill('SIGTERM');
      assert.deepEqual(await agent.exited, { code: 0, signal: null });
      assert.equal(world.peer.byes.length, 1);
      assert.doesNotMatch(agent.stderr(), new RegExp(world.peer.agentToken));
    } finally {
      agent.child.kill('SIGKILL');
    }
  });

  it('kills the processes of its running job when a second signal makes it quit at once', async () => {
    const agent = startAgentProcess(world, [], { byEngine: false });
    const pidFile = path.join(world.dir, 'pids');
    let pids: number[] = [];
    try {
      await world.peer.assign({
        job: makeJob({ script: [`sleep 1000 & echo $! >> ${pidFile}`, `sleep 1000 & echo $! >> ${pidFile}`, 'wait'] }),
        repository: world.repo.dir,
        commit: world.repo.commit,
      });
      pids = await waitFor('the job to start its two processes', async () => {
        const text = await readFile(pidFile, 'utf8').catch(() => '');
        const found = text.split('\n').filter((line) => line !== '').map(Number);
        return found.length === 2 ? found : undefined;
      }, 30_000);
      agent.child.kill('SIGINT');
      await waitFor('the agent to drain', () => agent.stderr().includes('finishing running jobs'));
      assert.ok(pids.every(processAlive), 'a first signal lets the job run on');
      agent.child.kill('SIGINT');
      assert.deepEqual(await agent.exited, { code: 130, signal: null }, agent.stderr());
      await waitFor('the job\'s processes to be gone', () => !pids.some(processAlive));
    } finally {
      for (const pid of pids) if (processAlive(pid)) process.kill(pid, 'SIGKILL');
      agent.child.kill('SIGKILL');
    }
  });

  it('exits by itself after one job with --max-jobs 1', async () => {
    const agent = startAgentProcess(world, ['--max-jobs', '1']);
    try {
      const { attemptId } = await world.peer.assign({
        job: makeJob({ script: ['echo the only job'] }),
        repository: world.repo.dir,
        commit: world.repo.commit,
      });
      assert.deepEqual(await agent.exited, { code: 0, signal: null }, agent.stderr());
      assert.equal(world.peer.results.get(attemptId)?.status, 'success');
      assert.deepEqual(world.peer.byes, ['it ran its 1 job (--max-jobs)']);
      assert.equal(world.peer.readies.at(-1), 0);
    } finally {
      agent.child.kill('SIGKILL');
    }
  });

  it('refuses a --source other than auto, git or archive', async () => {
    const agent = startAgentProcess(world, ['--source', 'svn']);
    try {
      assert.equal((await agent.exited).code, 2);
      assert.match(agent.stderr(), /--source svn: give auto, git or archive/);
    } finally {
      agent.child.kill('SIGKILL');
    }
  });

  it('refuses to start without a token and says where to put one', async () => {
    const child = spawn(process.execPath, [slipwayBin, 'agent', '--server', world.peer.url], {
      cwd: world.dir,
      env: { ...process.env, SLIPWAY_AGENT_TOKEN: '' },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
    const code = await new Promise((resolve) => child.on('close', resolve));
    assert.equal(code, 2);
    assert.match(stderr, /SLIPWAY_AGENT_TOKEN/);
  });
});
