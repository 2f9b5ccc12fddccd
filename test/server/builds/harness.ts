import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino } from 'pino';
import { createBuildController, type BuildController } from '../../../src/server/builds/index.js';
import { parseSecretsKey, newSecretsKey, encryptSecret } from '../../../src/server/crypto/index.js';
import { createEventBus } from '../../../src/server/events/index.js';
import { createGitMirrors, type GitMirrors } from '../../../src/server/git/index.js';
import { buildApp, createToken, loadConfig, type ServerConfig } from '../../../src/server/index.js';
import { openStore, type Job, type Project, type Store } from '../../../src/store/index.js';
import { makeRepo } from '../../support/git-repo.js';
import type { ApiTarget } from '../http/harness.js';

export type World = {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly config: ServerConfig;
  readonly key: Buffer;
  readonly git: GitMirrors;
  readonly builds: BuildController;
  readonly events: ReturnType<typeof createEventBus>;
  readonly dir: string;
  readonly token: string;
  /** A clock the test moves by hand (the controller's `now`). */
  clock: { now: number };
  call(method: string, url: string, body?: unknown): Promise<LightMyRequestResponse>;
};

/** An app with its own controller, event bus and git mirrors on a fresh database, for the tests of the enclosing describe. */
export function useWorld(target: ApiTarget): World {
  let world: World | undefined;
  let drop: (() => Promise<void>) | undefined;
  before(async () => {
    const database = await target.fresh();
    const dir = await mkdtemp(path.join(tmpdir(), 'slipway-builds-'));
    drop = async () => {
      await database.drop();
      await rm(dir, { recursive: true, force: true });
    };
    const clock = { now: 1_700_000_000_000 };
    // One clock for the store's stamps and the controller: progress and timeouts compare them.
    const store = await openStore({ url: database.url, ...(database.schema === undefined ? {} : { schema: database.schema }), logger: pino({ level: 'silent' }), clock: () => clock.now });
    const config = loadConfig({ env: {}, cwd: dir, flags: { home: path.join(dir, 'home') } });
    const key = parseSecretsKey(newSecretsKey());
    const events = createEventBus(store);
    const git = createGitMirrors({ dir: path.join(dir, 'mirrors'), baseEnv: process.env });
    const builds = createBuildController({ store, events, git, config, now: () => clock.now });
    const app = buildApp({ config, store, secretsKey: key, logger: pino({ level: 'silent' }), events, builds, now: () => clock.now });
    await app.ready();
    const token = (await createToken(store, { kind: 'api', name: 'test', scopes: ['admin'] })).secret;
    world = {
      app, store, config, key, git, builds, events, dir, token, clock,
      call: (method, url, body) =>
        app.inject({ method: method as 'GET', url, headers: { authorization: `Bearer ${token}` }, ...(body === undefined ? {} : { payload: body as Record<string, unknown> }) }),
    };
  });
  after(async () => {
    world?.events.close();
    await world?.app.close();
    await world?.store.close();
    await drop?.();
  });
  return new Proxy({} as World, {
    get(_target, name) {
      if (world === undefined) throw new Error('the world is made in before()');
      return world[name as keyof World];
    },
  });
}

let counter = 0;

/** A project on a fresh git repository holding `.slipway.yml`. */
export async function projectWith(world: World, pipeline: string, extra: Partial<Parameters<Store['projects']['create']>[0]> = {}): Promise<{ project: Project; repo: string }> {
  counter += 1;
  const repo = path.join(world.dir, `repo-${counter}`);
  await makeRepo(repo, { '.slipway.yml': pipeline, 'README.md': 'hello\n' });
  const project = await world.store.projects.create({ name: `p-${counter}-${process.pid}`, repositoryUrl: repo, ...extra });
  return { project, repo };
}

export async function setWebhookSecret(world: World, projectId: number, value: string): Promise<void> {
  await world.store.secrets.set({ projectId, name: 'WEBHOOK_SECRET', ciphertext: encryptSecret(world.key, { projectId, name: 'WEBHOOK_SECRET' }, value) });
}

export async function jobsByName(store: Store, buildId: number): Promise<Map<string, Job>> {
  return new Map((await store.jobs.listByBuild(buildId)).map((job) => [job.name, job]));
}

export async function statuses(store: Store, buildId: number): Promise<Record<string, string>> {
  return Object.fromEntries((await store.jobs.listByBuild(buildId)).map((job) => [job.name, job.status]));
}

let agentCounter = 0;

/** What the dispatcher does: gives a pending job to an agent, returning the attempt id. */
export async function assign(store: Store, job: Job): Promise<number> {
  agentCounter += 1;
  const agent = await store.agents.register({ name: `agent-${process.pid}-${agentCounter}`, kind: 'registered', labels: [], capacity: { cpus: 1, memoryMiB: 1024 } });
  const attempt = await store.attempts.assign({ jobId: job.id, agentId: agent.id, tokenHash: randomBytes(32).toString('hex') });
  if (attempt === null) throw new Error(`job ${job.name} is ${job.status}, not pending`);
  return attempt.id;
}
