import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { tempDir } from '../../support/git-repo.js';
import { processAlive, waitFor } from '../../support/wait.js';
import { agentProcesses, engineYaml, finished, sameEngine, startEngineServer, stopAllAgents, type EngineServer } from './helpers.js';

describe('the engine manager keeping engines tidy (local engine)', () => {
  const cleanups: Array<() => Promise<void>> = [];
  afterEach(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });
  after(async () => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  });

  async function server(fileText: string, dir?: string, port?: number, adminToken?: string): Promise<EngineServer> {
    let where = dir;
    if (where === undefined) {
      const made = await tempDir('provisioning-lifecycle');
      cleanups.push(made.remove);
      where = made.dir;
    }
    const started = await startEngineServer({ dir: where, fileText, ...(port === undefined ? {} : { port }), ...(adminToken === undefined ? {} : { adminToken }) });
    cleanups.push(async () => {
      await started.close();
      await stopAllAgents(started.home);
    });
    return started;
  }

  async function log(s: EngineServer, jobId: number): Promise<string> {
    const response = await fetch(`${s.url}/api/v1/jobs/${jobId}/log/raw`, { headers: { authorization: `Bearer ${s.adminToken}` } });
    return response.text();
  }

  it('removes a running agent task nobody owns at the next reconciliation, and counts it', async () => {
    const s = await server(`provisioning: { reconcileIntervalMs: 100, leakGraceMs: 0 }\n${engineYaml({})}`);
    const other = await sameEngine(s.home);
    const leaked = await other.launch({ agentName: 'leaked-1', template: 'default', serverUrl: s.url, token: 'unused', env: {} });
    await other.close();
    const pid = (await agentProcesses(s.stateDir)).find((task) => task.taskId === leaked.taskId)?.pid;
    assert.ok(pid !== undefined);
    await waitFor('the leaked task to be stopped', () => !processAlive(pid), 20_000);
    await waitFor('the removal to be counted', async () => (await s.metric('slipway_engine_leaked_tasks_removed_total', { kind: 'agent' })) === 1);
  });

  it('fails a job with services on the local engine, saying to run it on a docker engine', async () => {
    const s = await server(engineYaml({}));
    const project = await s.project({ '.slipway.yml': 'db:\n  services: [postgres:16]\n  script:\n    - echo never\n' });
    const build = await s.waitForBuild((await s.trigger(project)).id, (b) => finished(b.status), 'the build to finish');
    assert.equal(build.status, 'failed');
    const job = await s.api<{ failure: { kind: string; message: string } | null }>('GET', `/api/v1/jobs/${build.jobs[0]?.id}`);
    assert.equal(job.failure?.kind, 'system_failure');
    assert.match(job.failure?.message ?? '', /services \(postgres:16\), which only a docker engine runs/);
  });

  it('gives every job the registry variables: the address, the project image and a tag of the commit and build time', async () => {
    const s = await server(`registry: { address: "registry.example.com:5000" }\n${engineYaml({})}`);
    const project = await s.project({ '.slipway.yml': 'show:\n  script:\n    - echo "registry=$SLIPWAY_REGISTRY image=$SLIPWAY_REGISTRY_IMAGE tag=$SLIPWAY_IMAGE_TAG"\n' });
    const build = await s.waitForBuild((await s.trigger(project)).id, (b) => finished(b.status), 'the build to finish');
    assert.equal(build.status, 'success');
    const details = await s.api<{ commitSha: string }>('GET', `/api/v1/builds/${build.id}`);
    const text = await log(s, build.jobs[0]?.id ?? 0);
    const image = `registry.example.com:5000/${project}`;
    assert.match(text, new RegExp(`registry=registry\\.example\\.com:5000 image=${image} tag=${image}:${details.commitSha.slice(0, 8)}-\\d{14}\\n`));
  });

  it('counts the jobs an adopted agent ran before the restart toward maxJobsPerAgent', async () => {
    const made = await tempDir('provisioning-lifecycle');
    cleanups.push(made.remove);
    const fileText = engineYaml({ maxJobsPerAgent: 2, idleMinutes: 5 });
    const first = await server(fileText, made.dir);
    const project = await first.project({ '.slipway.yml': 'hello:\n  script:\n    - echo hello\n' });
    assert.equal((await first.waitForBuild((await first.trigger(project)).id, (b) => finished(b.status), 'the first build')).status, 'success');
    const [agent] = await agentProcesses(first.stateDir);
    assert.ok(agent !== undefined);
    const { port, adminToken } = first;
    await first.close();

    const second = await server(fileText, made.dir, port, adminToken);
    assert.equal((await second.waitForBuild((await second.trigger(project)).id, (b) => finished(b.status), 'the second build')).status, 'success');
    // Its second job: the adopted agent is stopped, as it would have been without the restart.
    await waitFor('the agent to be stopped after its second job', () => !processAlive(agent.pid), 20_000);
    assert.equal(await second.metric('slipway_engine_launches_total', { result: 'launched' }), 0);
  });
});
