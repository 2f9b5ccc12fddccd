import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { runAgent, silentLogger } from '../../../src/agent/index.js';
import type { AddressInfo } from 'node:net';
import { openFileStores, startAgentServer, type AgentServer, type FileStores } from '../../../src/server/agents/index.js';
import { createBuildController } from '../../../src/server/builds/index.js';
import { newSecretsKey, parseSecretsKey } from '../../../src/server/crypto/index.js';
import { createEventBus } from '../../../src/server/events/index.js';
import { createGitMirrors } from '../../../src/server/git/index.js';
import { bootstrapAdminToken, buildApp, loadConfig } from '../../../src/server/index.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { Registry } from 'prom-client';
import WebSocket from 'ws';
import { PROTOCOL_VERSION, SUBPROTOCOL, encodeEventsFrame, type Assignment, type AttemptEvent, type ServerMessage } from '../../../src/protocol/index.js';
import { apiClient, projectMaker } from '../../support/api.js';
import { tempDir } from '../../support/git-repo.js';
import { waitFor } from '../../support/wait.js';

export type JobView = { id: number; name: string; status: string; attempts: number; failure: { kind: string; message: string } | null };
export type BuildView = { id: number; status: string; jobs: JobView[] };

/** An agent driven by hand over the protocol, so that the test decides what it sends and when. */
export type HandAgent = {
  ws: WebSocket;
  /** The server's messages, in order. */
  received: ServerMessage[];
  /** Resolves when the connection closes, with the code and reason. */
  closed: Promise<{ code: number; reason: string }>;
  send(message: unknown): void;
  /** Sends events of an attempt in one binary frame. */
  events(attemptId: number, token: string, events: AttemptEvent[]): void;
  /** Says it has one free slot and waits for the job it is given. */
  assignment(): Promise<Assignment>;
  close(): Promise<void>;
};

/** A real server (temp home, SQLite, port 0) with an admin and an agent token, and helpers to drive it. */
export type TestServer = {
  url: string;
  store: Store;
  agents: AgentServer;
  /** The server's log and blob stores. */
  files: FileStores;
  home: string;
  adminToken: string;
  agentToken: string;
  api<T>(method: string, url: string, body?: unknown): Promise<T>;
  /** A project over a fresh git repository holding these files. */
  project(files: Record<string, string>): Promise<string>;
  trigger(project: string): Promise<BuildView>;
  build(id: number): Promise<BuildView>;
  waitForBuild(id: number, done: (build: BuildView) => boolean, what: string, deadlineMs?: number): Promise<BuildView>;
  /** Waits until the newest attempt's stored log passes check; returns it. */
  waitForLog(jobId: number, check: (text: string) => boolean, deadlineMs?: number): Promise<string>;
  /** An agent in this process; stop() aborts it gracefully and waits. */
  agent(name: string, options?: { labels?: string[]; jobs?: number }): { name: string; done: Promise<void>; stop(): Promise<void>; abort: AbortController };
  /** Connects a HandAgent with these labels, saying it runs these attempts; resolves once it is welcomed. */
  handAgent(name: string, labels: string[], running?: Array<{ attemptId: number; lastSeq: number }>): Promise<HandAgent>;
  close(): Promise<void>;
};

/** agents: settings of the `agents` block; more: other slipway.yml text. */
export async function startTestServer(agents: Record<string, number> = {}, more = ''): Promise<TestServer> {
  const { dir, remove } = await tempDir('agents');
  const home = path.join(dir, 'home');
  const agentsText = Object.keys(agents).length === 0 ? '' : `agents:\n${Object.entries(agents).map(([k, v]) => `  ${k}: ${v}`).join('\n')}\n`;
  const fileText = agentsText + more === '' ? null : agentsText + more;
  const config = loadConfig({ env: {}, cwd: dir, fileText, flags: { home, listen: '127.0.0.1:0' } });
  // startServer's wiring, by hand: the tests reach the store and the agent endpoint.
  const silent = pino({ level: 'silent' });
  const store = await openStore({ url: config.database.url, logger: silent });
  const adminToken = (await bootstrapAdminToken(store, Date.now())) ?? '';
  const secretsKey = parseSecretsKey(newSecretsKey());
  const events = createEventBus(store);
  const builds = createBuildController({ store, events, git: createGitMirrors({ dir: path.join(home, 'git'), baseEnv: process.env }), config, now: Date.now });
  const files = await openFileStores(config);
  const registry = new Registry();
  const app = buildApp({ config, store, secretsKey, logger: silent, events, builds, files: async () => files, registry });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const url = `http://127.0.0.1:${(app.server.address() as AddressInfo).port}`;
  const agentServer = startAgentServer({ server: app.server, store, config, secretsKey, builds, events, files, registry, logger: silent, publicUrl: url });
  const server = { url };
  const running: Array<{ abort: AbortController; done: Promise<void> }> = [];

  const api = apiClient(server.url, adminToken);
  const makeProject = projectMaker(api, dir, 'p');

  const agentToken = (await api<{ token: string }>('POST', '/api/v1/agent-tokens', { name: 'test agents' })).token;

  const self: TestServer = {
    url,
    store,
    agents: agentServer,
    files,
    home,
    adminToken,
    agentToken,
    api,
    async project(files) {
      return (await makeProject(files)).name;
    },
    trigger: (project) => api<BuildView>('POST', `/api/v1/projects/${project}/builds`, {}),
    build: async (id) => ({ ...(await api<BuildView>('GET', `/api/v1/builds/${id}`)), jobs: await api<JobView[]>('GET', `/api/v1/builds/${id}/jobs`).then(itemsOf) }),
    waitForBuild: (id, done, what, deadlineMs = 20_000) =>
      waitFor(what, async () => {
        const build = await self.build(id);
        return done(build) ? build : undefined;
      }, deadlineMs),
    waitForLog: (jobId, check, deadlineMs = 20_000) =>
      waitFor(`the log of job ${jobId}`, async () => {
        const response = await fetch(`${url}/api/v1/jobs/${jobId}/log/raw`, { headers: { authorization: `Bearer ${adminToken}` } });
        const text = await response.text();
        return response.ok && check(text) ? text : undefined;
      }, deadlineMs),
    agent(name, options = {}) {
      const abort = new AbortController();
      const workDir = path.join(dir, 'agents', name);
      const done = mkdir(workDir, { recursive: true }).then(() =>
        runAgent({
          serverUrl: server.url,
          token: agentToken,
          name,
          labels: options.labels ?? [],
          capacity: { cpus: 2, memoryMiB: 2048, jobs: options.jobs ?? 1 },
          workDir,
          maxJobs: 0,
          baseEnv: process.env,
          signal: abort.signal,
          log: silentLogger,
          reconnect: { baseMs: 20, capMs: 200 },
        }),
      );
      const handle = {
        name,
        done,
        abort,
        stop: async () => {
          abort.abort();
          await done.catch(() => undefined);
        },
      };
      running.push(handle);
      return handle;
    },
    async handAgent(name, labels, attempts = []) {
      const ws = new WebSocket(`${url.replace(/^http/, 'ws')}/api/v1/agents/connect`, SUBPROTOCOL, { headers: { authorization: `Bearer ${agentToken}` } });
      const received: ServerMessage[] = [];
      ws.on('message', (data, binary) => {
        if (!binary) received.push(JSON.parse(String(data)) as ServerMessage);
      });
      const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.once('close', (code, reason) => resolve({ code, reason: reason.toString() })));
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const send = (message: unknown) => ws.send(JSON.stringify(message));
      send({ type: 'hello', protocol: PROTOCOL_VERSION, name, version: 'test', labels, capacity: { cpus: 1, memoryMiB: 512, jobs: 1 }, engine: null, running: attempts });
      await waitFor(`agent ${name} to be welcomed`, () => received.some((m) => m.type === 'welcome'));
      return {
        ws,
        received,
        closed,
        send,
        events: (attemptId, token, events) => ws.send(encodeEventsFrame(attemptId, token, events)),
        assignment: () => {
          send({ type: 'ready', slots: 1 });
          return waitFor(`an assignment for agent ${name}`, () => received.find((m): m is Assignment => m.type === 'assign'));
        },
        close: async () => {
          ws.close();
          await closed;
        },
      };
    },
    async close() {
      for (const agent of running) agent.abort.abort();
      await agentServer.close();
      events.close();
      await app.close();
      await files.close();
      await store.close();
      await Promise.all(running.map((agent) => agent.done.catch(() => undefined)));
      await remove();
    },
  };
  return self;
}

function itemsOf(value: unknown): JobView[] {
  return Array.isArray(value) ? (value as JobView[]) : ((value as { items: JobView[] }).items ?? []);
}

/** A pipeline file with these jobs (YAML bodies). */
export function pipeline(jobs: Record<string, string>): string {
  return Object.entries(jobs)
    .map(([name, body]) => `${name}:\n${body.replace(/^/gm, '  ')}\n`)
    .join('');
}
