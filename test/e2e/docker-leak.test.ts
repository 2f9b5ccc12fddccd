import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { dockerSuiteOptions } from '../engines/docker-support.js';
import { waitFor } from '../support/wait.js';
import { freePort } from './processes.js';
import { finished } from './scene.js';
import { dockerEngine, openDockerScene, pipelineFile, template } from './docker-scene.js';

const options = await dockerSuiteOptions('docker leak test');

type Listed = { id: number; status: string };

describe('Slipway leaves no container behind', options ?? { skip: 'Docker is required on CI' }, () => {
  it('leaves no container of the server after 50 builds with cancels, timeouts and a kill -9 of the server in the middle', async () => {
    const port = await freePort();
    const s = await openDockerScene({
      port,
      // Quick liveness and reconciliation: the server restarted after the kill finds its agents in seconds.
      agents: { heartbeatIntervalMs: 1000, unreachableAfterMs: 3000, lostAfterMs: 8000 },
      config: (dir) =>
        'provisioning: { reconcileIntervalMs: 1000, leakGraceMs: 3000 }\nengines:\n' +
        dockerEngine('docker', [template(dir, { name: 'leak', maxAgents: 3, maxJobsPerAgent: 3, memoryMiB: 192 })], { stopGraceMs: 1000 }),
    });
    try {
      const quick = (await s.project(pipelineFile({ quick: { script: ['echo quick'] } }))).name;
      const slow = (await s.project(pipelineFile({ slow: { script: ['echo slow', 'sleep 60'] } }))).name;
      const late = (await s.project(pipelineFile({ late: { timeout: '2s', script: ['echo late', 'sleep 60'] } }))).name;
      const kinds = new Map<number, string>();
      for (let i = 0; i < 50; i += 1) {
        const project = i % 5 === 1 ? slow : i % 7 === 3 ? late : quick;
        kinds.set((await s.trigger(project)).id, project);
      }
      const list = async (): Promise<Listed[]> =>
        (await Promise.all([quick, slow, late].map(async (name) => (await s.api<{ items: Listed[] }>('GET', `/api/v1/projects/${name}/builds?limit=100`)).items))).flat();
      const canceled = new Set<number>();
      let killed = false;
      await waitFor(
        'every build to finish',
        async () => {
          const builds = await list();
          for (const build of builds) {
            // A slow build is canceled once it runs in a container: the container must go with it.
            if (kinds.get(build.id) === slow && build.status === 'running' && !canceled.has(build.id)) {
              canceled.add(build.id);
              await s.api('POST', `/api/v1/builds/${build.id}/cancel`);
            }
          }
          const done = builds.filter((build) => finished.includes(build.status)).length;
          // Possibly right after cancels: a cancel is stored before it is answered, so the
          // restarted server still ends those builds, and their containers go.
          if (!killed && done >= 20) {
            killed = true;
            await s.restartServerAfterKill9();
          }
          return done === kinds.size;
        },
        300_000,
        // Each check reads the 50 builds: a few times a second is enough.
        250,
      ).catch(async (error: unknown) => {
        const left = (await list()).filter((build) => !finished.includes(build.status));
        const jobs = await Promise.all(left.map(async (build) => JSON.stringify((await s.build(build.id)).jobs)));
        throw new Error(`${(error as Error).message}; unfinished: ${jobs.join('\n')}\n--- containers: ${(await s.containers()).join(', ')}\n--- server:\n${s.server.output()}`, { cause: error });
      });
      assert.ok(killed, 'the server was killed and restarted during the builds');
      assert.ok(canceled.size >= 3, `builds canceled while running: ${canceled.size}`);
      const builds = await list();
      const byKind = (project: string): string[] => builds.filter((build) => kinds.get(build.id) === project).map((build) => build.status);
      assert.ok(byKind(slow).every((status) => status === 'canceled' || status === 'failed'), `slow builds: ${byKind(slow).join(', ')}`);
      assert.ok(byKind(late).every((status) => status === 'failed'), `builds past their timeout: ${byKind(late).join(', ')}`);
      assert.ok(byKind(quick).filter((status) => status === 'success').length >= byKind(quick).length - 3, `quick builds: ${byKind(quick).join(', ')}`);
      await s.waitForNoContainers('the server to settle with no container left', 120_000);
    } finally {
      await s.close();
    }
  });
});
