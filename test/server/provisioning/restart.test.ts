import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { tempDir } from '../../support/git-repo.js';
import { processAlive, waitFor } from '../../support/wait.js';
import { agentProcesses, engineYaml, finished, sameEngine, startEngineServer, stopAllAgents, type EngineServer } from './helpers.js';

describe('the engine manager across a server restart', () => {
  const cleanups: Array<() => Promise<void>> = [];
  after(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });

  it('adopts the running agent instead of launching another, and stops a task nobody launched', async () => {
    const { dir, remove } = await tempDir('provisioning-restart');
    cleanups.push(remove);
    const fileText = engineYaml({ maxAgents: 2, idleMinutes: 5 });
    let current: EngineServer | null = await startEngineServer({ dir, fileText });
    const home = current.home;
    cleanups.push(async () => {
      await current?.close();
      await stopAllAgents(home);
    });
    const project = await current.project({ '.slipway.yml': 'hello:\n  script:\n    - echo hello\n' });
    const first = await current.waitForBuild((await current.trigger(project)).id, (b) => finished(b.status), 'the first build to finish');
    assert.equal(first.status, 'success');
    const [agent] = await agentProcesses(current.stateDir);
    assert.ok(agent !== undefined);

    const { port, adminToken } = current;
    await current.close();
    current = null;
    assert.ok(processAlive(agent.pid), 'stopping the server leaves its agents running');

    // A task the store never heard of, as a crash between launch and record leaves.
    const other = await sameEngine(home);
    const orphan = await other.launch({ agentName: 'orphan-1', template: 'default', serverUrl: `http://127.0.0.1:${port}`, token: 'unused', env: {} });
    await other.close();
    const orphanPid = (await agentProcesses(stateDirOf(home))).find((task) => task.taskId === orphan.taskId)?.pid;
    assert.ok(orphanPid !== undefined && processAlive(orphanPid));

    // Same port: the agent reconnects to the URL it was started with.
    current = await startEngineServer({ dir, fileText, port, adminToken });
    const restarted = current;
    assert.equal(await restarted.metric('slipway_engine_orphans_removed_total'), 1);
    assert.ok(!processAlive(orphanPid), 'the orphan was stopped');
    const second = await restarted.waitForBuild((await restarted.trigger(project)).id, (b) => finished(b.status), 'a build after the restart to finish');
    assert.equal(second.status, 'success');
    assert.equal(await restarted.metric('slipway_engine_launches_total', { result: 'launched' }), 0, 'nothing was launched: the agent was adopted');
    await waitFor('the adopted agent to count as idle', async () => (await restarted.metric('slipway_engine_agents', { state: 'idle' })) === 1);
    assert.deepEqual((await agentProcesses(restarted.stateDir)).map((task) => task.pid), [agent.pid]);
  });
});

function stateDirOf(home: string): string {
  return `${home}/engines/local`;
}
