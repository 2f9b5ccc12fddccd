import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { JobAttempt } from '../../src/store/index.js';
import { aBuild, aJob, anAgent, newToken, rejectsWith, sha256, useDatabase, type StoreTarget } from './harness.js';

export function attemptTests(target: StoreTarget): void {
  describe('job attempts', () => {
    const t = useDatabase(target);

    it('gives a queued job to exactly one of two racing agents', async () => {
      for (let round = 0; round < 5; round++) {
        const { jobs } = await aBuild(t.store);
        const jobId = jobs[0]?.id ?? 0;
        const [a, b] = [await anAgent(t.store), await anAgent(t.store)];
        const results = await Promise.all([
          t.store.attempts.assign({ jobId, agentId: a.id, tokenHash: sha256(newToken()) }),
          t.store.attempts.assign({ jobId, agentId: b.id, tokenHash: sha256(newToken()) }),
        ]);
        const winners = results.filter((r): r is JobAttempt => r !== null);
        assert.equal(winners.length, 1);
        const job = await t.store.jobs.get(jobId);
        assert.equal(job?.status, 'running');
        assert.equal(job?.agentId, winners[0]?.agentId);
        assert.equal(job?.attempts, 1);
        assert.equal((await t.store.attempts.listByJob(jobId)).length, 1);
      }
    });

    it('gives a queued job to exactly one agent when two stores on one database race for it', async () => {
      const other = await t.database.open();
      for (let round = 0; round < 5; round++) {
        const { jobs } = await aBuild(t.store, [aJob('x'), aJob('y')]);
        const agents = [await anAgent(t.store), await anAgent(t.store)];
        // Both stores go for both jobs: each job must end with exactly one attempt.
        const results = await Promise.all(
          jobs.flatMap((job) => [
            t.store.attempts.assign({ jobId: job.id, agentId: agents[0]?.id ?? 0, tokenHash: sha256(newToken()) }),
            other.attempts.assign({ jobId: job.id, agentId: agents[1]?.id ?? 0, tokenHash: sha256(newToken()) }),
          ]),
        );
        assert.equal(results.filter((r) => r !== null).length, 2);
        for (const job of jobs) {
          const attempts = await t.store.attempts.listByJob(job.id);
          assert.equal(attempts.length, 1);
          assert.equal((await other.jobs.get(job.id))?.agentId, attempts[0]?.agentId);
        }
      }
    });

    it('refuses a job that is not pending and numbers the attempts of a job 1, 2, 3', async () => {
      const { jobs } = await aBuild(t.store, [aJob('flaky', { status: 'created' })]);
      const jobId = jobs[0]?.id ?? 0;
      const agent = await anAgent(t.store);
      assert.equal(await t.store.attempts.assign({ jobId, agentId: agent.id, tokenHash: sha256(newToken()) }), null);
      assert.equal(await t.store.attempts.assign({ jobId: 987654, agentId: agent.id, tokenHash: sha256(newToken()) }), null);
      await t.store.jobs.setPending({ id: jobId, from: ['created'] });
      for (const expected of [1, 2, 3]) {
        const startedAt = t.database.clock.advance(1);
        const attempt = await t.store.attempts.assign({ jobId, agentId: agent.id, tokenHash: sha256(newToken()) });
        assert.equal(attempt?.number, expected);
        assert.equal(attempt?.status, 'assigned');
        assert.equal(attempt?.logSeq, 0);
        assert.equal(attempt?.createdAt, startedAt);
        const job = await t.store.jobs.get(jobId);
        assert.equal(job?.attempts, expected);
        assert.equal(job?.startedAt, startedAt);
        assert.equal(await t.store.attempts.finish(attempt?.id ?? 0, { status: 'lost', failure: { kind: 'agent_lost', message: 'gone' } }), true);
        await t.store.jobs.requeue({ id: jobId, from: ['running'] });
      }
      assert.deepEqual((await t.store.attempts.listByJob(jobId)).map((a) => [a.number, a.status]), [[1, 'lost'], [2, 'lost'], [3, 'lost']]);
    });

    it('refuses to assign a job to an agent that does not exist with NOT_FOUND, leaving the job queued', async () => {
      const { jobs } = await aBuild(t.store);
      const jobId = jobs[0]?.id ?? 0;
      await rejectsWith(t.store.attempts.assign({ jobId, agentId: 987654, tokenHash: sha256(newToken()) }), 'NOT_FOUND', /agent 987654/);
      assert.equal((await t.store.jobs.get(jobId))?.status, 'pending');
    });

    it('finds an attempt by its token hash only until it is finished or revoked', async () => {
      const { jobs } = await aBuild(t.store, [aJob('a'), aJob('b')]);
      const agent = await anAgent(t.store);
      const [tokenA, tokenB] = [newToken(), newToken()];
      const a = await t.store.attempts.assign({ jobId: jobs[0]?.id ?? 0, agentId: agent.id, tokenHash: sha256(tokenA) });
      const b = await t.store.attempts.assign({ jobId: jobs[1]?.id ?? 0, agentId: agent.id, tokenHash: sha256(tokenB) });
      assert.ok(a && b);
      assert.deepEqual(await t.store.attempts.getByTokenHash(sha256(tokenA)), a);
      assert.equal(await t.store.attempts.getByTokenHash(sha256(newToken())), null);
      assert.equal(await t.store.attempts.markRunning(a.id), true);
      assert.equal(await t.store.attempts.markRunning(a.id), false);
      const finishedAt = t.database.clock.advance(30);
      assert.equal(await t.store.attempts.finish(a.id, { status: 'failed', exitCode: 1, failure: { kind: 'script_failure', message: 'exit 1', exitCode: 1 } }), true);
      assert.equal(await t.store.attempts.getByTokenHash(sha256(tokenA)), null);
      const finished = await t.store.attempts.get(a.id);
      assert.equal(finished?.status, 'failed');
      assert.equal(finished?.exitCode, 1);
      assert.deepEqual(finished?.failure, { kind: 'script_failure', message: 'exit 1', exitCode: 1 });
      assert.equal(finished?.finishedAt, finishedAt);
      assert.equal(finished?.revokedAt, finishedAt);
      assert.equal(await t.store.attempts.revoke(b.id), true);
      assert.equal(await t.store.attempts.revoke(b.id), false);
      assert.equal(await t.store.attempts.getByTokenHash(sha256(tokenB)), null);
      assert.equal((await t.store.attempts.get(b.id))?.status, 'assigned', 'revoking keeps the status');
    });

    it('accepts one outcome per attempt: a late result after a revocation or a second result is refused', async () => {
      const { jobs } = await aBuild(t.store, [aJob('a'), aJob('b')]);
      const agent = await anAgent(t.store);
      const a = await t.store.attempts.assign({ jobId: jobs[0]?.id ?? 0, agentId: agent.id, tokenHash: sha256(newToken()) });
      const b = await t.store.attempts.assign({ jobId: jobs[1]?.id ?? 0, agentId: agent.id, tokenHash: sha256(newToken()) });
      assert.ok(a && b);
      const race = await Promise.all([t.store.attempts.finish(a.id, { status: 'success', exitCode: 0 }), t.store.attempts.finish(a.id, { status: 'lost' })]);
      assert.equal(race.filter(Boolean).length, 1);
      await t.store.attempts.revoke(b.id);
      assert.equal(await t.store.attempts.finish(b.id, { status: 'success', exitCode: 0 }), false);
      assert.equal(await t.store.attempts.markRunning(b.id), false);
    });

    it('refuses a token hash that another attempt has with CONFLICT, leaving the job queued', async () => {
      const { jobs } = await aBuild(t.store, [aJob('a'), aJob('b')]);
      const agent = await anAgent(t.store);
      const hash = sha256(newToken());
      await t.store.attempts.assign({ jobId: jobs[0]?.id ?? 0, agentId: agent.id, tokenHash: hash });
      await rejectsWith(t.store.attempts.assign({ jobId: jobs[1]?.id ?? 0, agentId: agent.id, tokenHash: hash }), 'CONFLICT', /new random token/);
      const job = await t.store.jobs.get(jobs[1]?.id ?? 0);
      assert.equal(job?.status, 'pending');
      assert.equal(job?.attempts, 0);
    });

    it('never lowers the log sequence number of an attempt', async () => {
      const { jobs } = await aBuild(t.store);
      const agent = await anAgent(t.store);
      const attempt = await t.store.attempts.assign({ jobId: jobs[0]?.id ?? 0, agentId: agent.id, tokenHash: sha256(newToken()) });
      assert.ok(attempt);
      assert.equal(await t.store.attempts.setLogSeq(attempt.id, 5), true);
      assert.equal(await t.store.attempts.setLogSeq(attempt.id, 3), false);
      assert.equal(await t.store.attempts.setLogSeq(attempt.id, 5), false);
      await Promise.all([9, 7, 8, 6].map((seq) => t.store.attempts.setLogSeq(attempt.id, seq)));
      assert.equal((await t.store.attempts.get(attempt.id))?.logSeq, 9);
    });

    it('stamps the time of the last stored output when the log sequence number rises, and only then', async () => {
      const { jobs } = await aBuild(t.store);
      const agent = await anAgent(t.store);
      const attempt = await t.store.attempts.assign({ jobId: jobs[0]?.id ?? 0, agentId: agent.id, tokenHash: sha256(newToken()) });
      assert.ok(attempt);
      assert.equal(attempt.lastProgressAt, null);
      const clock = t.database.clock;
      const firstAt = clock.advance(1000);
      await t.store.attempts.setLogSeq(attempt.id, 2);
      assert.equal((await t.store.attempts.get(attempt.id))?.lastProgressAt, firstAt);
      clock.advance(1000);
      await t.store.attempts.setLogSeq(attempt.id, 2);
      assert.equal((await t.store.attempts.get(attempt.id))?.lastProgressAt, firstAt, 'a resent chunk is no progress');
      const laterAt = clock.advance(1000);
      await t.store.attempts.setLogSeq(attempt.id, 3);
      assert.equal((await t.store.attempts.get(attempt.id))?.lastProgressAt, laterAt);
      assert.equal((await t.store.attempts.listRunning()).find((a) => a.id === attempt.id)?.lastProgressAt, laterAt);
    });

    it('stores the first cancel of an active attempt and refuses a second, or one of an ended or revoked attempt', async () => {
      const { jobs } = await aBuild(t.store, [aJob('a'), aJob('b'), aJob('c')]);
      const agent = await anAgent(t.store);
      const [a, b, c] = await Promise.all(jobs.map((job) => t.store.attempts.assign({ jobId: job.id, agentId: agent.id, tokenHash: sha256(newToken()) })));
      assert.ok(a && b && c);
      assert.equal(a.cancelReason, null);
      assert.equal(await t.store.attempts.requestCancel(a.id, 'the build was canceled'), true);
      assert.equal(await t.store.attempts.requestCancel(a.id, 'the job was canceled'), false, 'the first reason stays');
      assert.equal((await t.store.attempts.get(a.id))?.cancelReason, 'the build was canceled');
      await t.store.attempts.finish(b.id, { status: 'success', exitCode: 0 });
      assert.equal(await t.store.attempts.requestCancel(b.id, 'too late'), false);
      await t.store.attempts.revoke(c.id);
      assert.equal(await t.store.attempts.requestCancel(c.id, 'revoked'), false);
      assert.deepEqual([(await t.store.attempts.get(b.id))?.cancelReason, (await t.store.attempts.get(c.id))?.cancelReason], [null, null]);
    });

    it('lists the active attempts of an agent and of all agents', async () => {
      const { jobs } = await aBuild(t.store, [aJob('a'), aJob('b'), aJob('c')]);
      const [one, two] = [await anAgent(t.store), await anAgent(t.store)];
      const a = await t.store.attempts.assign({ jobId: jobs[0]?.id ?? 0, agentId: one.id, tokenHash: sha256(newToken()) });
      const b = await t.store.attempts.assign({ jobId: jobs[1]?.id ?? 0, agentId: one.id, tokenHash: sha256(newToken()) });
      const c = await t.store.attempts.assign({ jobId: jobs[2]?.id ?? 0, agentId: two.id, tokenHash: sha256(newToken()) });
      assert.ok(a && b && c);
      await t.store.attempts.markRunning(b.id);
      await t.store.attempts.finish(a.id, { status: 'success', exitCode: 0 });
      assert.deepEqual((await t.store.attempts.listRunningByAgent(one.id)).map((x) => x.id), [b.id]);
      const all = (await t.store.attempts.listRunning()).map((x) => x.id);
      assert.ok(all.includes(b.id) && all.includes(c.id) && !all.includes(a.id));
    });
  });
}
