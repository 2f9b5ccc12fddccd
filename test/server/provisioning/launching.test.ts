import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { cleanupsAfterEach } from '../../support/cleanups.js';
import { processAlive, waitFor } from '../../support/wait.js';
import { agentProcesses, engineServer, engineYaml, finished, type EngineServer } from './helpers.js';

const pipeline = (jobs: Record<string, string>): string =>
  Object.entries(jobs)
    .map(([name, body]) => `${name}:\n${body.replace(/^/gm, '  ')}\n`)
    .join('');

describe('the engine manager with the local engine', () => {
  const cleanups = cleanupsAfterEach();

  const server = (template: Record<string, unknown>): Promise<EngineServer> => engineServer(cleanups, { fileText: engineYaml(template) });

  it('launches an agent for a build nobody can run, and that agent runs the job; a second build goes to it idle', async () => {
    const s = await server({ maxAgents: 2, idleMinutes: 5 });
    const project = await s.project({ '.slipway.yml': pipeline({ hello: 'script:\n  - echo "hello from $SLIPWAY_JOB_NAME"' }) });
    const first = await s.waitForBuild((await s.trigger(project)).id, (b) => finished(b.status), 'the first build to finish');
    assert.equal(first.status, 'success');
    assert.equal(await s.metric('slipway_engine_launches_total', { result: 'launched' }), 1);
    const [agent] = await agentProcesses(s.stateDir);
    assert.ok(agent !== undefined && processAlive(agent.pid), 'the launched agent runs on, idle');

    const second = await s.waitForBuild((await s.trigger(project)).id, (b) => finished(b.status), 'the second build to finish');
    assert.equal(second.status, 'success');
    assert.equal(await s.metric('slipway_engine_launches_total', { result: 'launched' }), 1, 'no second launch');
    assert.deepEqual((await agentProcesses(s.stateDir)).map((task) => task.agentName), [agent.agentName]);
    assert.equal(await s.metric('slipway_engine_launch_connect_seconds_count'), 1);
  });

  it('stops an agent once it has been idle for idleMinutes', async () => {
    const s = await server({ idleMinutes: 0.01 });
    const project = await s.project({ '.slipway.yml': pipeline({ quick: 'script:\n  - echo quick' }) });
    const build = await s.waitForBuild((await s.trigger(project)).id, (b) => finished(b.status), 'the build to finish');
    assert.equal(build.status, 'success');
    const launched = await s.metric('slipway_engine_launches_total', { result: 'launched' });
    assert.equal(launched, 1);
    await waitFor('the idle agent to be stopped', async () => (await agentProcesses(s.stateDir)).length === 0, 20_000);
    assert.equal(await s.metric('slipway_engine_agents'), 0);
  });

  it('never runs more agents of a template than maxAgents', async () => {
    const s = await server({ maxAgents: 1, idleMinutes: 5 });
    const project = await s.project({ '.slipway.yml': pipeline({ a: 'script:\n  - echo a', b: 'script:\n  - echo b', c: 'script:\n  - echo c' }) });
    const build = await s.waitForBuild((await s.trigger(project)).id, (b) => finished(b.status), 'the build to finish');
    assert.equal(build.status, 'success', JSON.stringify(build.jobs));
    assert.equal(await s.metric('slipway_engine_launches_total', { result: 'launched' }), 1);
    assert.equal((await agentProcesses(s.stateDir)).length, 1);
  });

  it('launches nothing for a job whose labels no template serves, and leaves it pending', async () => {
    const s = await server({ maxAgents: 2, idleMinutes: 5 });
    const project = await s.project({ '.slipway.yml': pipeline({ gpu: 'labels: [gpu]\nscript:\n  - echo never', plain: 'script:\n  - echo plain' }) });
    const started = await s.trigger(project);
    // The plain job ran: the manager has planned with the gpu job waiting beside it.
    const build = await s.waitForBuild(started.id, (b) => b.jobs.some((job) => job.name === 'plain' && finished(job.status)), 'the plain job to finish');
    assert.equal(build.jobs.find((job) => job.name === 'plain')?.status, 'success');
    assert.equal(build.jobs.find((job) => job.name === 'gpu')?.status, 'pending');
    assert.equal(await s.metric('slipway_engine_launches_total', { result: 'launched' }), 1);
    await s.api('POST', `/api/v1/builds/${started.id}/cancel`, {});
  });
});
