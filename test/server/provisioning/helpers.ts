import { readFile, readdir } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { createLocalEngine, DEFAULT_TEMPLATE, type Engine } from '../../../src/engines/index.js';
import { loadConfig, startServer, type RunningServer } from '../../../src/server/index.js';
import { apiClient, projectMaker } from '../../support/api.js';
import { tempDir } from '../../support/git-repo.js';
import { processAlive, waitFor } from '../../support/wait.js';

export type BuildView = { id: number; status: string; jobs: Array<{ id: number; name: string; status: string }> };

/** A real server (startServer, SQLite, the local engine launching real `slipway agent` processes) on a home of its own. */
export type EngineServer = {
  url: string;
  port: number;
  home: string;
  stateDir: string;
  adminToken: string;
  api<T>(method: string, url: string, body?: unknown): Promise<T>;
  project(files: Record<string, string>): Promise<string>;
  trigger(project: string): Promise<BuildView>;
  waitForBuild(id: number, done: (build: BuildView) => boolean, what: string): Promise<BuildView>;
  /** A sample's value in /metrics (0 when absent), e.g. metric('slipway_engine_launches_total', { result: 'launched' }). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  close(): Promise<void>;
};

export const finished = (status: string): boolean => ['success', 'failed', 'canceled', 'error'].includes(status);

/**
 * startEngineServer with its close and the end of its agents pushed onto cleanups (see
 * cleanupsAfterEach); in a fresh temporary directory unless given one.
 */
export async function engineServer(cleanups: Array<() => Promise<void>>, input: { fileText: string; dir?: string; port?: number; adminToken?: string }): Promise<EngineServer> {
  let dir = input.dir;
  if (dir === undefined) {
    const made = await tempDir('provisioning');
    cleanups.push(made.remove);
    dir = made.dir;
  }
  const started = await startEngineServer({ ...input, dir });
  cleanups.push(async () => {
    await started.close();
    await stopAllAgents(started.home);
  });
  return started;
}

/** A local engine config in YAML, with one template named default. */
export function engineYaml(template: Record<string, unknown>): string {
  return `logLevel: silent\nengines:\n  - kind: local\n    stopGraceMs: 5000\n    templates:\n      - ${JSON.stringify({ name: 'default', cpus: 0.1, memoryMiB: 64, ...template })}\n`;
}

export async function startEngineServer(input: { dir: string; fileText: string; port?: number; adminToken?: string }): Promise<EngineServer> {
  const home = path.join(input.dir, 'home');
  const config = loadConfig({ env: {}, cwd: input.dir, fileText: input.fileText, flags: { home, listen: `127.0.0.1:${input.port ?? 0}` } });
  let printed = '';
  const server: RunningServer = await startServer(config, { baseEnv: process.env, logger: pino({ level: 'silent' }), print: (line) => (printed = /:\s*(\S+)$/.exec(line)?.[1] ?? '') });
  const adminToken = input.adminToken ?? printed;
  const url = server.url;

  const api = apiClient(url, adminToken);
  const makeProject = projectMaker(api, input.dir, 'p');

  const self: EngineServer = {
    url,
    port: Number(new URL(url).port),
    home,
    stateDir: path.join(home, 'engines', 'local'),
    adminToken,
    api,
    async project(files) {
      return (await makeProject(files)).name;
    },
    trigger: (project) => api<BuildView>('POST', `/api/v1/projects/${project}/builds`, {}),
    waitForBuild: (id, done, what) =>
      waitFor(
        what,
        async () => {
          const build = await api<BuildView>('GET', `/api/v1/builds/${id}`);
          const jobs = await api<{ items: BuildView['jobs'] } | BuildView['jobs']>('GET', `/api/v1/builds/${id}/jobs`);
          const view = { ...build, jobs: Array.isArray(jobs) ? jobs : jobs.items };
          return done(view) ? view : undefined;
        },
        30_000,
      ),
    async metric(name, labels = {}) {
      const text = await (await fetch(`${url}/metrics`)).text();
      let sum = 0;
      for (const line of text.split('\n')) {
        const match = /^([a-z_]+)(?:\{([^}]*)\})? (\S+)$/.exec(line);
        if (match?.[1] !== name) continue;
        const have = match[2] ?? '';
        if (Object.entries(labels).every(([key, value]) => have.includes(`${key}="${value}"`))) sum += Number(match[3]);
      }
      return sum;
    },
    close: () => server.close(),
  };
  return self;
}

/** The agent processes the local engine runs in stateDir: from its task markers. */
export async function agentProcesses(stateDir: string): Promise<Array<{ taskId: string; agentName: string; pid: number }>> {
  const tasksDir = path.join(stateDir, 'tasks');
  const names = await readdir(tasksDir).catch(() => [] as string[]);
  const found = [];
  for (const name of names.filter((file) => file.endsWith('.json'))) {
    const marker = JSON.parse(await readFile(path.join(tasksDir, name), 'utf8')) as { taskId: string; agentName: string; pid: number };
    found.push({ taskId: marker.taskId, agentName: marker.agentName, pid: marker.pid });
  }
  return found;
}

/** A second local engine instance on the server's state (same server id), as a restarted server has. */
export async function sameEngine(home: string, agentCommand: string[] = [process.execPath, '-e', 'setInterval(() => {}, 1000)']): Promise<Engine> {
  const serverId = (await readFile(path.join(home, 'server-id'), 'utf8')).trim();
  return createLocalEngine({ serverId, stateDir: path.join(home, 'engines', 'local'), agentCommand, templates: [DEFAULT_TEMPLATE], stopGraceMs: 2000, baseEnv: process.env });
}

/** Stops every agent process left in the home and waits until they are gone. */
export async function stopAllAgents(home: string): Promise<void> {
  const pids = (await agentProcesses(path.join(home, 'engines', 'local'))).map((task) => task.pid);
  const engine = await sameEngine(home);
  try {
    for (const task of await engine.list()) await engine.stop(task.id);
  } finally {
    await engine.close();
  }
  await waitFor('every agent process to end', () => pids.every((pid) => !processAlive(pid)));
}
