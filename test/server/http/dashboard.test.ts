import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { percentile } from '../../../src/server/http/routes/stats.js';
import { makeJob } from '../../support/jobs.js';
import { errorOf, postgresTarget, sqliteTarget, uniqueName, useApi, type ApiTarget } from './harness.js';

type RecentBuild = { id: number; project: string; number: number; status: string; ref: string; commitSha: string; commitMessage: string | null; source: string; durationMs: number | null };

function dashboardSuite(target: ApiTarget): void {
  describe(`the dashboard API without agents on ${target.name}`, target.skip === undefined ? {} : { skip: target.skip }, () => {
    const api = useApi(target);

    async function project(): Promise<{ id: number; name: string }> {
      const name = uniqueName('dash');
      const created = await api.call('POST', '/api/v1/projects', { body: { name, repositoryUrl: 'https://git.example.com/a.git' } });
      assert.equal(created.statusCode, 201, created.body);
      return created.json<{ id: number; name: string }>();
    }

    async function build(projectId: number, ref: string, status: 'pending' | 'success' | 'failed'): Promise<number> {
      const created = await api.store.builds.create({ build: { projectId, status: 'pending', ref, commitSha: 'c'.repeat(40), commitMessage: `work on ${ref}`, source: 'push' }, jobs: [] });
      if (status !== 'pending') {
        await api.store.builds.setStatus({ id: created.build.id, from: ['pending'], to: 'running' });
        await api.store.builds.setStatus({ id: created.build.id, from: ['running'], to: status });
      }
      return created.build.id;
    }

    it("tells a token's name and scopes to whoever holds it", async () => {
      const me = await api.call('GET', '/api/v1/me', { token: api.tokens.read });
      assert.equal(me.statusCode, 200, me.body);
      const body = me.json<{ id: number; name: string; scopes: string[]; tokenHash?: string }>();
      assert.equal(body.name, 'test read');
      assert.deepEqual(body.scopes, ['read']);
      assert.equal(typeof body.id, 'number');
      assert.equal(body.tokenHash, undefined, 'no hash leaves the server');
      assert.deepEqual((await api.call('GET', '/api/v1/me', { token: api.tokens.admin })).json<{ scopes: string[] }>().scopes, ['admin']);
      assert.equal(errorOf(await api.call('GET', '/api/v1/me', { token: 'slw_api_unknown' }), 401).code, 'UNAUTHORIZED');
    });

    it('lists the builds of every project newest first, a page at a time, filtered by project, status and ref', async () => {
      const a = await project();
      const b = await project();
      const first = await build(a.id, 'main', 'success');
      const second = await build(b.id, 'main', 'failed');
      const third = await build(a.id, 'feature/x', 'pending');

      const all = (await api.call('GET', '/api/v1/builds', { token: api.tokens.read })).json<{ items: RecentBuild[]; nextCursor: string | null }>();
      const ours = all.items.filter((item) => [first, second, third].includes(item.id));
      assert.deepEqual(ours.map((item) => [item.id, item.project]), [[third, a.name], [second, b.name], [first, a.name]]);
      const finished = ours.find((item) => item.id === first);
      assert.equal(finished?.commitMessage, 'work on main');
      assert.equal(finished?.source, 'push');
      assert.equal(typeof finished?.durationMs, 'number');
      assert.equal(ours.find((item) => item.id === third)?.durationMs, null, 'not started yet');

      const pageOne = (await api.call('GET', '/api/v1/builds?limit=2')).json<{ items: RecentBuild[]; nextCursor: string | null }>();
      assert.equal(pageOne.items.length, 2);
      assert.notEqual(pageOne.nextCursor, null);
      const pageTwo = (await api.call('GET', `/api/v1/builds?limit=2&cursor=${encodeURIComponent(pageOne.nextCursor ?? '')}`)).json<{ items: RecentBuild[] }>();
      assert.ok(pageTwo.items.every((item) => item.id < Math.min(...pageOne.items.map((i) => i.id))), 'the next page is older');

      const ofA = (await api.call('GET', `/api/v1/builds?project=${a.name}`)).json<{ items: RecentBuild[] }>();
      assert.deepEqual(ofA.items.map((item) => item.id), [third, first]);
      const failed = (await api.call('GET', '/api/v1/builds?status=failed')).json<{ items: RecentBuild[] }>();
      assert.ok(failed.items.some((item) => item.id === second) && failed.items.every((item) => item.status === 'failed'));
      const feature = (await api.call('GET', `/api/v1/builds?ref=feature/x&project=${a.name}`)).json<{ items: RecentBuild[] }>();
      assert.deepEqual(feature.items.map((item) => item.id), [third]);

      assert.equal(errorOf(await api.call('GET', '/api/v1/builds?project=no-such-project'), 404).code, 'NOT_FOUND');
      assert.match(errorOf(await api.call('GET', '/api/v1/builds?status=sleeping'), 400).message, /^status: /);
    });

    it('answers the agent, engine and stats views with empty lists when no agent endpoint runs', async () => {
      assert.deepEqual((await api.call('GET', '/api/v1/agents', { token: api.tokens.read })).json(), { items: [] });
      assert.deepEqual((await api.call('GET', '/api/v1/engines', { token: api.tokens.read })).json(), { items: [] });
      const stats = (await api.call('GET', '/api/v1/stats', { token: api.tokens.read })).json<{ queue: { length: number }; agents: unknown[]; capacity: unknown[] }>();
      assert.equal(typeof stats.queue.length, 'number');
      assert.deepEqual(stats.agents, []);
      assert.deepEqual(stats.capacity, []);
    });

    it('finds the jobs agents run now and the queue waits of jobs started since a time', async () => {
      const { id: projectId, name } = await project();
      const since = Date.now() - 1;
      const created = await api.store.builds.create({
        build: { projectId, status: 'pending', ref: 'main', commitSha: 'd'.repeat(40), source: 'api' },
        jobs: [{ name: 'unit', stage: 'test', status: 'created', spec: makeJob({ name: 'unit' }) }],
      });
      const job = created.jobs[0];
      assert.ok(job !== undefined);
      await api.store.jobs.setPending({ id: job.id, from: ['created'] });
      const agent = await api.store.agents.register({ name: uniqueName('agent'), kind: 'registered', labels: [], capacity: { cpus: 1, memoryMiB: 512 } });
      assert.notEqual(await api.store.attempts.assign({ jobId: job.id, agentId: agent.id, tokenHash: 'f'.repeat(64) }), null);

      const running = (await api.store.stats.runningJobs()).filter((r) => r.agentId === agent.id);
      assert.deepEqual(running, [{ agentId: agent.id, jobId: job.id, jobName: 'unit', buildId: created.build.id, buildNumber: created.build.number, project: name }]);
      const waits = await api.store.stats.queueWaits(since);
      assert.ok(waits.length >= 1 && waits.every((ms) => Number.isInteger(ms) && ms >= 0), JSON.stringify(waits));
      assert.deepEqual(await api.store.stats.queueWaits(Date.now() + 60_000), []);
    });

    it('takes the nearest-rank percentile of sorted waits', () => {
      assert.equal(percentile([], 0.5), null);
      assert.equal(percentile([7], 0.9), 7);
      const waits = Array.from({ length: 10 }, (_, i) => (i + 1) * 100);
      assert.equal(percentile(waits, 0.5), 500);
      assert.equal(percentile(waits, 0.9), 900);
      assert.equal(percentile(waits, 1), 1000);
    });
  });
}

// Before any suite: the target's admin pool closes in an after() hook that must be the file's last.
const postgres = await postgresTarget();
dashboardSuite(sqliteTarget);
dashboardSuite(postgres);
