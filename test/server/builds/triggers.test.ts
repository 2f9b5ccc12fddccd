import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { createBuildController } from '../../../src/server/builds/index.js';
import { createPoller, createScheduleRunner, nextRunAt } from '../../../src/server/triggers/index.js';
import { commitFiles } from '../../support/git-repo.js';
import { waitFor } from '../../support/wait.js';
import { sqliteTarget } from '../http/harness.js';
import { projectWith, setWebhookSecret, useWorld } from './harness.js';

const PIPELINE = 'job:\n  script: x\n';

describe('triggers', () => {
  const world = useWorld(sqliteTarget);
  const rethrow = (error: unknown) => {
    throw error;
  };

  describe('events', () => {
    it('streams build.created and job.updated to a subscriber, and a resume with Last-Event-ID gets exactly the missed ones', async () => {
      const { project } = await projectWith(world, PIPELINE);
      const address = await world.app.listen({ host: '127.0.0.1', port: 0 });
      const url = `${address}/api/v1/events?project=${project.name}`;
      const headers = { authorization: `Bearer ${world.token}` };
      assert.equal((await fetch(url)).status, 401);

      const abort = new AbortController();
      const response = await fetch(url, { headers, signal: abort.signal });
      assert.equal(response.status, 200);
      assert.match(response.headers.get('content-type') ?? '', /^text\/event-stream/);
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: null, variables: {}, source: 'api' });
      const frames: Array<{ id: number; event: string }> = [];
      const decoder = new TextDecoder();
      let text = '';
      const reader = response.body!.getReader();
      while (!frames.some((f) => f.event === 'build.updated')) {
        const { value, done } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
          const frame = text.slice(0, end);
          text = text.slice(end + 2);
          const id = /^id: (\d+)$/m.exec(frame)?.[1];
          const event = /^event: (.+)$/m.exec(frame)?.[1];
          if (id !== undefined && event !== undefined) frames.push({ id: Number(id), event });
        }
      }
      abort.abort();
      assert.deepEqual(frames.map((f) => f.event), ['build.created', 'job.updated', 'build.updated']);

      // Resuming after the first event gives the two that followed, and nothing else of this project.
      const missed = frames.slice(1).map((f) => f.id);
      const resumed = await fetch(url, { headers: { ...headers, 'last-event-id': String(frames[0]!.id) }, signal: AbortSignal.timeout(10_000) });
      const resumedReader = resumed.body!.getReader();
      let got = '';
      while ([...got.matchAll(/^id: (\d+)$/gm)].length < missed.length) {
        const { value, done } = await resumedReader.read();
        if (done) break;
        got += decoder.decode(value, { stream: true });
      }
      await resumedReader.cancel();
      assert.deepEqual([...got.matchAll(/^id: (\d+)$/gm)].map((m) => Number(m[1])), missed);
      assert.ok(buildId > 0);
    });
  });

  describe('cron schedules', () => {
    it('fires a due schedule exactly once even with two controllers racing', async () => {
      const { project } = await projectWith(world, PIPELINE);
      const created = await world.call('POST', `/api/v1/projects/${project.name}/schedules`, { cron: '0 3 * * *' });
      assert.equal(created.statusCode, 201, created.body);
      const schedule = created.json<{ id: number; nextRunAt: number }>();
      assert.equal(schedule.nextRunAt, nextRunAt('0 3 * * *', world.clock.now));
      const other = createBuildController({ store: world.store, events: world.events, git: world.git, config: world.config, now: () => world.clock.now });
      const runners = [world.builds, other].map((builds) => createScheduleRunner({ store: world.store, builds, onError: rethrow }));
      const started = await Promise.all(runners.map((r) => r.runDue(schedule.nextRunAt)));
      assert.equal(started[0]! + started[1]!, 1);
      const builds = (await world.store.builds.list({ projectId: project.id })).items;
      assert.deepEqual(builds.map((b) => b.source), ['schedule']);
      assert.equal((await world.store.schedules.get(schedule.id))?.nextRunAt, schedule.nextRunAt + 86_400_000);
      assert.equal(await runners[0]!.runDue(schedule.nextRunAt), 0);
    });

    it('refuses an invalid cron expression with what to write', async () => {
      const { project } = await projectWith(world, PIPELINE);
      const response = await world.call('POST', `/api/v1/projects/${project.name}/schedules`, { cron: 'every day' });
      assert.equal(response.statusCode, 400);
      assert.match(response.json<{ message: string }>().message, /cron/);
    });
  });

  describe('webhooks', () => {
    function github(name: string, body: string, options: { secret: string; delivery: string; event?: string }) {
      return world.app.inject({
        method: 'POST',
        url: `/api/v1/webhooks/github/${name}`,
        headers: {
          'content-type': 'application/json',
          'x-github-event': options.event ?? 'push',
          'x-github-delivery': options.delivery,
          'x-hub-signature-256': `sha256=${createHmac('sha256', options.secret).update(body).digest('hex')}`,
        },
        payload: body,
      });
    }

    it('builds a validly signed GitHub push, refuses a forged one with 401, and starts nothing for a replayed delivery', async () => {
      const { project, repo } = await projectWith(world, PIPELINE);
      await setWebhookSecret(world, project.id, 'hook-secret');
      const before = (await world.git.resolveRef(repo, 'main')).sha;
      const after = await commitFiles(repo, { 'b.txt': 'b' }, 'second');
      const body = JSON.stringify({ ref: 'refs/heads/main', before, after });

      const forged = await github(project.name, body, { secret: 'not-the-secret', delivery: 'd-0' });
      assert.equal(forged.statusCode, 401);
      assert.equal((await world.store.builds.list({ projectId: project.id })).items.length, 0);

      const accepted = await github(project.name, body, { secret: 'hook-secret', delivery: 'd-1' });
      assert.equal(accepted.statusCode, 200, accepted.body);
      assert.equal(accepted.json<{ status: string }>().status, 'triggered');
      const replayed = await github(project.name, body, { secret: 'hook-secret', delivery: 'd-1' });
      assert.equal(replayed.statusCode, 200);
      assert.deepEqual(replayed.json<{ status: string }>().status, 'duplicate');
      const builds = (await world.store.builds.list({ projectId: project.id })).items;
      assert.equal(builds.length, 1);
      assert.equal(builds[0]?.commitSha, after);
      assert.equal(builds[0]?.ref, 'main');
      assert.equal(builds[0]?.source, 'webhook');

      const ping = await github(project.name, '{"zen":"hi"}', { secret: 'hook-secret', delivery: 'd-2', event: 'ping' });
      assert.equal(ping.json<{ status: string }>().status, 'pong');
    });

    it('rejects a body above webhooks.maxBodyBytes with 413', async () => {
      const { project } = await projectWith(world, PIPELINE);
      await setWebhookSecret(world, project.id, 's');
      const body = JSON.stringify({ padding: 'x'.repeat(world.config.webhooks.maxBodyBytes) });
      const response = await github(project.name, body, { secret: 's', delivery: 'big' });
      assert.equal(response.statusCode, 413);
      assert.equal((await world.store.builds.list({ projectId: project.id })).items.length, 0);
    });

    it('accepts a GitLab push with the right X-Gitlab-Token and refuses a wrong one', async () => {
      const { project, repo } = await projectWith(world, PIPELINE);
      await setWebhookSecret(world, project.id, 'gl-token');
      const after = (await world.git.resolveRef(repo, 'main')).sha;
      const send = (token: string, uuid: string) =>
        world.app.inject({
          method: 'POST',
          url: `/api/v1/webhooks/gitlab/${project.name}`,
          headers: { 'content-type': 'application/json', 'x-gitlab-event': 'Push Hook', 'x-gitlab-token': token, 'x-gitlab-event-uuid': uuid },
          payload: JSON.stringify({ ref: 'refs/heads/main', before: '0'.repeat(40), after, checkout_sha: after }),
        });
      assert.equal((await send('wrong', 'u-1')).statusCode, 401);
      const ok = await send('gl-token', 'u-2');
      assert.equal(ok.statusCode, 200, ok.body);
      assert.equal(ok.json<{ status: string }>().status, 'triggered');
    });
  });

  describe('polling', () => {
    it('starts a build only when the default branch has a new commit', async () => {
      const { project, repo } = await projectWith(world, PIPELINE, { pollIntervalSeconds: 60 });
      const poller = createPoller({ store: world.store, git: world.git, builds: world.builds, onError: rethrow });
      const count = async () => (await world.store.builds.list({ projectId: project.id })).items.length;
      let t = world.clock.now;
      await poller.pollDue(t);
      assert.equal(await count(), 0, 'the first poll records the head');
      await poller.pollDue((t += 60_000));
      assert.equal(await count(), 0, 'no new commit, no build');
      const sha = await commitFiles(repo, { 'c.txt': 'c' }, 'third');
      await poller.pollDue(t + 1000);
      assert.equal(await count(), 0, 'not due yet');
      await poller.pollDue((t += 60_000));
      const builds = await waitFor('the polled build', async () => {
        const items = (await world.store.builds.list({ projectId: project.id })).items;
        return items.length === 1 ? items : undefined;
      });
      assert.equal(builds[0]?.commitSha, sha);
      assert.equal(builds[0]?.source, 'poll');
    });
  });
});
