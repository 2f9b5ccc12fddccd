import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { aBuild, anAgent, newToken, rejectsWith, sha256, unique, useDatabase, type StoreTarget } from './harness.js';

export function accessTests(target: StoreTarget): void {
  describe('agents', () => {
    const t = useDatabase(target);

    it('registers an agent, and registering again under its name updates the same agent', async () => {
      const name = unique('runner');
      const first = await t.store.agents.register({ name, kind: 'engine', engine: 'docker', engineTaskId: 'c1', labels: ['linux'], capacity: { cpus: 2, memoryMiB: 2048 }, version: '0.1.0' });
      assert.equal(first.status, 'online');
      assert.equal(first.lastSeenAt, t.database.clock.now());
      assert.deepEqual(first.capacity, { cpus: 2, memoryMiB: 2048 });
      await t.store.agents.setStatus({ id: first.id, from: ['online'], to: 'offline' });
      t.database.clock.advance(10);
      const again = await t.store.agents.register({ name, kind: 'engine', engine: 'docker', engineTaskId: 'c2', labels: ['linux', 'gpu'], capacity: { cpus: 0.5, memoryMiB: 512 }, version: '0.2.0' });
      assert.equal(again.id, first.id);
      assert.equal(again.status, 'online');
      assert.equal(again.engineTaskId, 'c2');
      assert.deepEqual(again.labels, ['linux', 'gpu']);
      assert.deepEqual(again.capacity, { cpus: 0.5, memoryMiB: 512 });
      assert.equal(again.createdAt, first.createdAt);
      assert.equal(again.lastSeenAt, first.lastSeenAt + 10);
      assert.deepEqual(await t.store.agents.getByName(name), again);
      assert.equal(await t.store.agents.get(987654), null);
    });

    it('records heartbeats and finds online agents not seen since a time', async () => {
      const now = t.database.clock.now();
      const quiet = await anAgent(t.store);
      const chatty = await anAgent(t.store);
      const gone = await anAgent(t.store);
      await t.store.agents.setStatus({ id: gone.id, from: ['online'], to: 'lost' });
      assert.equal(await t.store.agents.heartbeat(chatty.id, now + 30_000), true);
      assert.equal(await t.store.agents.heartbeat(987654, now), false);
      const stale = (await t.store.agents.staleSince(now + 10_000)).map((a) => a.id);
      assert.ok(stale.includes(quiet.id));
      assert.ok(!stale.includes(chatty.id), 'a recent heartbeat keeps an agent fresh');
      assert.ok(!stale.includes(gone.id), 'only online agents go stale');
    });

    it('lets only one of two concurrent status changes of an agent win', async () => {
      const agent = await anAgent(t.store);
      const results = await Promise.all([
        t.store.agents.setStatus({ id: agent.id, from: ['online'], to: 'unreachable' }),
        t.store.agents.setStatus({ id: agent.id, from: ['online'], to: 'offline' }),
      ]);
      assert.equal(results.filter(Boolean).length, 1);
      assert.equal(await t.store.agents.setStatus({ id: agent.id, from: ['online'], to: 'lost' }), false);
    });

    it('lists agents by status, page after page', async () => {
      const made = [await anAgent(t.store), await anAgent(t.store), await anAgent(t.store)];
      for (const agent of made) await t.store.agents.setStatus({ id: agent.id, from: ['online'], to: 'unreachable' });
      const ids: number[] = [];
      let cursor: string | null = null;
      do {
        const page: Awaited<ReturnType<typeof t.store.agents.list>> = await t.store.agents.list({ status: 'unreachable', limit: 2, cursor });
        ids.push(...page.items.map((a) => a.id));
        assert.ok(page.items.every((a) => a.status === 'unreachable'));
        cursor = page.nextCursor;
      } while (cursor !== null);
      assert.deepEqual(ids.filter((id) => made.some((a) => a.id === id)), made.map((a) => a.id));
    });

    it('deletes an agent, keeping the history of its jobs and attempts without it', async () => {
      const { jobs } = await aBuild(t.store);
      const agent = await anAgent(t.store);
      const attempt = await t.store.attempts.assign({ jobId: jobs[0]?.id ?? 0, agentId: agent.id, tokenHash: sha256(newToken()) });
      assert.equal(await t.store.agents.delete(agent.id), true);
      assert.equal(await t.store.agents.delete(agent.id), false);
      assert.equal((await t.store.jobs.get(jobs[0]?.id ?? 0))?.agentId, null);
      assert.equal((await t.store.attempts.get(attempt?.id ?? 0))?.agentId, null);
    });
  });

  describe('tokens', () => {
    const t = useDatabase(target);

    it('finds an active token by the hash of its secret, and never hands out hashes', async () => {
      const secret = newToken();
      const token = await t.store.tokens.create({ kind: 'api', name: 'ci bot', tokenHash: sha256(secret), scopes: ['read', 'write'] });
      assert.deepEqual(token, { id: token.id, kind: 'api', name: 'ci bot', scopes: ['read', 'write'], createdAt: t.database.clock.now(), lastUsedAt: null, revokedAt: null, expiresAt: null });
      assert.deepEqual(await t.store.tokens.findActiveByHash(sha256(secret), t.database.clock.now()), token);
      assert.equal(await t.store.tokens.findActiveByHash(secret, t.database.clock.now()), null);
      const listed = await t.store.tokens.list({ kind: 'api' });
      assert.deepEqual(listed.items.find((item) => item.id === token.id), token);
      for (const item of listed.items) assert.ok(!Object.values(item).includes(sha256(secret)));
    });

    it('does not find a revoked or expired token', async () => {
      const now = t.database.clock.now();
      const [revokedSecret, expiringSecret] = [newToken(), newToken()];
      const revoked = await t.store.tokens.create({ kind: 'api', name: 'old', tokenHash: sha256(revokedSecret), scopes: ['read'] });
      await t.store.tokens.create({ kind: 'agent', name: 'fleet', tokenHash: sha256(expiringSecret), scopes: [], expiresAt: now + 1000 });
      assert.equal(await t.store.tokens.revoke(revoked.id), true);
      assert.equal(await t.store.tokens.revoke(revoked.id), false);
      assert.equal((await t.store.tokens.get(revoked.id))?.revokedAt, now);
      assert.equal(await t.store.tokens.findActiveByHash(sha256(revokedSecret), now), null);
      assert.ok(await t.store.tokens.findActiveByHash(sha256(expiringSecret), now + 999));
      assert.equal(await t.store.tokens.findActiveByHash(sha256(expiringSecret), now + 1000), null);
    });

    it('records the use of a token at most once a minute', async () => {
      const token = await t.store.tokens.create({ kind: 'api', name: 'cli', tokenHash: sha256(newToken()), scopes: ['read'] });
      const now = t.database.clock.now();
      assert.equal(await t.store.tokens.touch(token.id, now), true);
      assert.equal(await t.store.tokens.touch(token.id, now + 59_999), false);
      assert.equal((await t.store.tokens.get(token.id))?.lastUsedAt, now);
      assert.equal(await t.store.tokens.touch(token.id, now + 60_000), true);
      assert.equal((await t.store.tokens.get(token.id))?.lastUsedAt, now + 60_000);
    });

    it('counts the active API tokens with the admin scope', async () => {
      const database = await target.freshDatabase();
      try {
        const store = await database.open();
        const now = database.clock.now();
        assert.equal(await store.tokens.countAdmins(now), 0);
        const admin = await store.tokens.create({ kind: 'api', name: 'root', tokenHash: sha256(newToken()), scopes: ['read', 'write', 'admin'] });
        await store.tokens.create({ kind: 'api', name: 'temp admin', tokenHash: sha256(newToken()), scopes: ['admin'], expiresAt: now + 10 });
        await store.tokens.create({ kind: 'api', name: 'reader', tokenHash: sha256(newToken()), scopes: ['read'] });
        await store.tokens.create({ kind: 'agent', name: 'fleet', tokenHash: sha256(newToken()), scopes: ['admin'] });
        assert.equal(await store.tokens.countAdmins(now), 2);
        assert.equal(await store.tokens.countAdmins(now + 10), 1);
        await store.tokens.revoke(admin.id);
        assert.equal(await store.tokens.countAdmins(now), 1);
      } finally {
        await database.drop();
      }
    });

    it('refuses a token hash that is already in use with CONFLICT', async () => {
      const hash = sha256(newToken());
      await t.store.tokens.create({ kind: 'api', name: 'a', tokenHash: hash, scopes: ['read'] });
      await rejectsWith(t.store.tokens.create({ kind: 'agent', name: 'b', tokenHash: hash, scopes: [] }), 'CONFLICT', /new random token/);
    });

    it('lists tokens of one kind, page after page', async () => {
      const made = [];
      for (let i = 0; i < 3; i++) made.push(await t.store.tokens.create({ kind: 'agent', name: `fleet ${i}`, tokenHash: sha256(newToken()), scopes: [] }));
      const first = await t.store.tokens.list({ kind: 'agent', limit: 2 });
      assert.equal(first.items.length, 2);
      assert.ok(first.nextCursor);
      const rest = await t.store.tokens.list({ kind: 'agent', limit: 500, cursor: first.nextCursor });
      const ids = [...first.items, ...rest.items].map((x) => x.id);
      assert.ok(made.every((m) => ids.includes(m.id)));
      assert.ok([...first.items, ...rest.items].every((x) => x.kind === 'agent'));
      assert.equal(new Set(ids).size, ids.length);
    });
  });
}
