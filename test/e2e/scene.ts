import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeRepo, tempDir } from '../support/git-repo.js';
import { waitFor } from '../support/wait.js';
import { spawnSlipway, waitForOutput, type SlipwayProcess } from './processes.js';

/** Where one test's server keeps its state: a fresh SQLite file, or a fresh PostgreSQL schema. */
export type E2eDatabase = {
  /** The --database URL; null for the default SQLite file in the home directory. */
  readonly url: string | null;
  /** Throws when the server, once started, did not keep its tables where this database says. */
  check?(): Promise<void>;
  drop(): Promise<void>;
};

export type E2eTarget = {
  readonly name: 'sqlite' | 'postgres';
  freshDatabase(): Promise<E2eDatabase>;
};

export type JobView = { id: number; name: string; status: string; attempts: number; failure: { kind: string; message: string } | null; startedAt: number | null; finishedAt: number | null };
export type BuildView = { id: number; status: string; source: string; commitSha: string; variables: Record<string, string>; jobs: JobView[] };

export const finished = ['success', 'failed', 'canceled', 'error', 'skipped'];

export type SceneOptions = {
  /** The server's agents: section (liveness timings), as YAML flow mapping fields. */
  agents?: Record<string, number>;
  /** Listen on this port instead of a free one picked by the server (a restart must find it again). */
  port?: number;
  /** Configuration YAML in place of `engines: []` (engines, registry...), given the scene's directory: the server's engines launch the agents. */
  config?: (dir: string) => string;
};

/**
 * One test's world of real processes: a temp directory (server home, repositories, agent
 * work directories), a database, a `slipway server`, and the agents the test starts.
 * close() stops every process by pid (SIGTERM, then SIGKILL), drops the database and
 * removes the directory.
 */
export type Scene = {
  readonly dir: string;
  readonly url: string;
  readonly adminToken: string;
  readonly agentToken: string;
  server: SlipwayProcess;
  api<T>(method: string, route: string, body?: unknown): Promise<T>;
  /** A project over a fresh git repository holding these files; returns its name and repository path. */
  project(files: Record<string, string>): Promise<{ name: string; repo: string }>;
  trigger(project: string): Promise<BuildView>;
  build(id: number): Promise<BuildView>;
  waitForBuild(id: number, done: (build: BuildView) => boolean, what: string, deadlineMs?: number): Promise<BuildView>;
  logRaw(jobId: number, attempt?: number): Promise<string>;
  waitForLog(jobId: number, check: (text: string) => boolean, what: string): Promise<string>;
  agent(name: string, labels?: string[], jobs?: number): Promise<SlipwayProcess>;
  /** Kills the server with SIGKILL and starts another process on the same home, database and port. */
  restartServerAfterKill9(): Promise<void>;
  /** Runs at close, before the processes are stopped (a job's leftover process group). */
  onClose(cleanup: () => void | Promise<void>): void;
  close(): Promise<void>;
};

export async function openScene(target: E2eTarget, options: SceneOptions = {}): Promise<Scene> {
  const { dir, remove } = await tempDir(`e2e-${target.name}`);
  const processes: SlipwayProcess[] = [];
  const cleanups: Array<() => void | Promise<void>> = [];
  let database: E2eDatabase | null = null;
  const close = async (): Promise<void> => {
    const errors: unknown[] = [];
    for (const step of [
      ...cleanups.reverse(),
      // Agents first: a server stopped before them would leave them reconnecting.
      ...processes.filter((p) => p !== scene?.server).map((p) => () => p.stop()),
      // docs/server.md: SIGTERM stops the server gracefully and it exits 0.
      ...processes
        .filter((p) => p === scene?.server)
        .map((p) => async () => {
          await p.stop();
          const exit = p.exit();
          if (exit?.code !== 0) throw new Error(`the server did not exit 0 on SIGTERM: ${JSON.stringify(exit)}; its output:\n${p.output()}`);
        }),
      ...processes.map((p) => () => p.kill9()),
      () => database?.drop(),
      remove,
    ]) {
      try {
        await step();
      } catch (error) {
        errors.push(error);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, 'the scene did not clean up');
  };
  let scene: Scene | undefined;
  try {
    database = await target.freshDatabase();
    const home = path.join(dir, 'home');
    const configFile = path.join(dir, 'slipway.yml');
    const agents = Object.entries(options.agents ?? {}).map(([key, value]) => `${key}: ${value}`).join(', ');
    // No engine: the tests start the agents themselves, so they know which process runs which job.
    await writeFile(configFile, `${options.config?.(dir) ?? 'engines: []'}\nlogLevel: warn\n${agents === '' ? '' : `agents: { ${agents} }\n`}`);
    const listen = `127.0.0.1:${options.port ?? 0}`;
    const serverArgs = ['server', '--config', configFile, '--home', home, '--listen', listen, ...(database.url === null ? [] : ['--database', database.url])];
    const startServer = async (): Promise<{ server: SlipwayProcess; url: string }> => {
      const server = spawnSlipway(serverArgs, { cwd: dir });
      processes.push(server);
      const [, url = ''] = await waitForOutput(server, /Slipway server listening on (\S+)\n/, 'the server to listen');
      return { server, url };
    };
    const first = await startServer();
    const [, adminToken = ''] = await waitForOutput(first.server, /Admin token \(shown once\): (\S+)\n/, 'the admin token', 1000);
    const url = first.url;
    await database.check?.();
    let repos = 0;

    async function api<T>(method: string, route: string, body?: unknown): Promise<T> {
      const response = await fetch(`${url}${route}`, {
        method,
        headers: { authorization: `Bearer ${adminToken}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
      const text = await response.text();
      if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
      return (text === '' ? undefined : JSON.parse(text)) as T;
    }

    const agentToken = (await api<{ token: string }>('POST', '/api/v1/agent-tokens', { name: 'e2e agents' })).token;
    const self: Scene = {
      dir,
      url,
      adminToken,
      agentToken,
      server: first.server,
      api,
      async project(files) {
        repos += 1;
        const repo = path.join(dir, `repo-${repos}`);
        await makeRepo(repo, files);
        const name = `e2e${repos}-${randomBytes(3).toString('hex')}`;
        await api('POST', '/api/v1/projects', { name, repositoryUrl: repo });
        return { name, repo };
      },
      trigger: (project) => api<BuildView>('POST', `/api/v1/projects/${project}/builds`, {}),
      async build(id) {
        const build = await api<BuildView>('GET', `/api/v1/builds/${id}`);
        return { ...build, jobs: (await api<{ items: JobView[] }>('GET', `/api/v1/builds/${id}/jobs`)).items };
      },
      waitForBuild: (id, done, what, deadlineMs = 30_000) =>
        waitFor(what, async () => {
          const build = await self.build(id);
          return done(build) ? build : undefined;
        }, deadlineMs).catch((error: unknown) => {
          throw new Error(`${(error as Error).message}\n--- server:\n${self.server.output()}\n--- agents:\n${processes.filter((p) => p !== self.server).map((p) => p.output()).join('\n---\n')}`, { cause: error });
        }),
      async logRaw(jobId, attempt) {
        const response = await fetch(`${url}/api/v1/jobs/${jobId}/log/raw${attempt === undefined ? '' : `?attempt=${attempt}`}`, { headers: { authorization: `Bearer ${adminToken}` } });
        const text = await response.text();
        if (!response.ok) throw new Error(`the log of job ${jobId}: ${response.status} ${text}`);
        return text;
      },
      waitForLog: (jobId, check, what) =>
        waitFor(what, async () => {
          const text = await self.logRaw(jobId);
          return check(text) ? text : undefined;
        }, 30_000),
      async agent(name, labels = [], jobs = 1) {
        const workDir = path.join(dir, 'agents', name);
        await mkdir(workDir, { recursive: true });
        const agent = spawnSlipway(['agent', '--server', url, '--name', name, '--labels', labels.join(','), '--jobs', String(jobs), '--work-dir', workDir], {
          cwd: dir,
          env: { SLIPWAY_AGENT_TOKEN: agentToken },
        });
        processes.push(agent);
        return agent;
      },
      async restartServerAfterKill9() {
        if (options.port === undefined) throw new Error('a server restarted after a kill needs a fixed port: open the scene with { port }');
        await self.server.kill9();
        const next = await startServer();
        if (next.url !== url) throw new Error(`the restarted server listens on ${next.url}, not ${url}`);
        self.server = next.server;
      },
      onClose: (cleanup) => void cleanups.push(cleanup),
      close,
    };
    scene = self;
    return self;
  } catch (error) {
    await close().catch((cleanupError: unknown) => console.error('e2e: cleanup after a failed start failed', cleanupError));
    throw error;
  }
}

/** Runs fn in a fresh scene and closes it, whatever happens. */
export async function withScene(target: E2eTarget, options: SceneOptions, fn: (scene: Scene) => Promise<void>): Promise<void> {
  const scene = await openScene(target, options);
  try {
    await fn(scene);
  } finally {
    await scene.close();
  }
}

export async function readText(file: string): Promise<string> {
  return readFile(file, 'utf8').catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return '';
    throw error;
  });
}
