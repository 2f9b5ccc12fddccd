import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { waitFor } from '../../support/wait.js';
import { pipeline, startTestServer, type TestServer } from './harness.js';

describe('agents that stop answering', () => {
  let t: TestServer;
  before(async () => {
    t = await startTestServer({ heartbeatIntervalMs: 100, unreachableAfterMs: 400, lostAfterMs: 900 });
  });
  after(() => t.close());

  it('marks a killed agent unreachable, then lost, and retries its job on another agent when retry allows agent_lost', async () => {
    const script = 'if [ "$SLIPWAY_JOB_ATTEMPT" = 1 ]; then echo first; sleep 3; fi; echo "attempt $SLIPWAY_JOB_ATTEMPT done"';
    const project = await t.project({ '.slipway.yml': pipeline({ fragile: `labels: [fragile]\nretry: { max: 1, when: [agent_lost] }\nscript:\n  - '${script}'` }) });
    const bin = path.resolve('bin/slipway.js');
    const doomed = spawn(process.execPath, [bin, 'agent', '--server', t.url, '--name', 'doomed', '--labels', 'fragile', '--work-dir', path.join(t.home, '..', 'doomed')], {
      env: { ...process.env, SLIPWAY_AGENT_TOKEN: t.agentToken },
      stdio: 'ignore',
    });
    const exited = new Promise((resolve) => doomed.once('exit', resolve));
    try {
      const started = await t.trigger(project);
      const running = await t.waitForBuild(started.id, (b) => b.jobs[0]?.status === 'running', 'the job to run on the doomed agent');
      const jobId = running.jobs[0]?.id ?? 0;
      await t.waitForLog(jobId, (text) => text.includes('first'));
      const agent = await t.store.agents.getByName('doomed');
      assert.ok(agent !== null);
      doomed.kill('SIGKILL');
      await exited;
      await waitFor('the agent to be unreachable', async () => (await t.store.agents.get(agent.id))?.status === 'unreachable');
      await waitFor('the agent to be lost', async () => (await t.store.agents.get(agent.id))?.status === 'lost');

      const rescuer = t.agent('rescuer', { labels: ['fragile'] });
      const build = await t.waitForBuild(started.id, (b) => ['success', 'failed', 'canceled'].includes(b.status), 'the build to finish');
      assert.equal(build.status, 'success', JSON.stringify(build.jobs));
      const attempts = await t.store.attempts.listByJob(jobId);
      assert.deepEqual(attempts.map((a) => a.status), ['lost', 'success']);
      assert.deepEqual(attempts[0]?.failure, { kind: 'agent_lost', message: 'agent lost' });
      assert.notEqual(attempts[1]?.agentId, agent.id);
      assert.match(await t.waitForLog(jobId, () => true), /attempt 2 done/);
      await rescuer.stop();
    } finally {
      doomed.kill('SIGKILL');
    }
  });
});
