// What the trigger-latency benchmarks share: a one-job repository, a real server with its
// admin token, and one build timed from the trigger to the first byte of its log stored.
import { execFileSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { pino } from 'pino';
import { loadConfig, startServer } from '../../src/server/index.js';

const finished = new Set(['success', 'failed', 'canceled', 'error', 'skipped']);

export type Api = <T>(method: string, route: string, body?: unknown) => Promise<T>;

function git(cwd: string, ...args: string[]): void {
  execFileSync('git', args, { cwd, env: { ...process.env, GIT_AUTHOR_NAME: 'b', GIT_AUTHOR_EMAIL: 'b@b.invalid', GIT_COMMITTER_NAME: 'b', GIT_COMMITTER_EMAIL: 'b@b.invalid' }, stdio: 'ignore' });
}

/** A git repository at dir/repo whose pipeline is one job printing one line; returns its path. */
export async function oneLineRepo(dir: string): Promise<string> {
  const repo = path.join(dir, 'repo');
  await mkdir(repo, { recursive: true });
  git(repo, 'init', '-q', '-b', 'main');
  execFileSync('sh', ['-c', `printf 'hello:\\n  script:\\n    - echo first line\\n' > .slipway.yml`], { cwd: repo });
  git(repo, 'add', '-A');
  git(repo, 'commit', '-q', '-m', 'bench');
  return repo;
}

/** A server on SQLite under dir/home with this slipway.yml, on a free port, and an API client with its admin token. */
export async function startBenchServer(dir: string, fileText: string) {
  const home = path.join(dir, 'home');
  const config = loadConfig({ env: {}, cwd: dir, fileText, flags: { home, listen: '127.0.0.1:0' } });
  let token = '';
  const server = await startServer(config, { baseEnv: process.env, logger: pino({ level: 'silent' }), print: (line) => (token = /:\s*(\S+)$/.exec(line)?.[1] ?? '') });
  const api: Api = async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${server.url}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${await response.text()}`);
    return (await response.json()) as T;
  };
  return { server, home, api };
}

/**
 * Triggers a build of the project and waits for it to end. The log is polled every pollMs
 * with one request (each request also costs the server being measured), which bounds the
 * error of firstByteMs to about pollMs + 1 ms.
 */
export async function timeBuild(api: Api, project: string, pollMs: number): Promise<{ triggeredMs: number; firstByteMs: number; status: string }> {
  const started = performance.now();
  const build = await api<{ id: number }>('POST', `/api/v1/projects/${project}/builds`, {});
  const triggeredMs = performance.now() - started;
  // The jobs are stored with the build: ask for them once, then poll only the log.
  const jobs = await api<{ items: Array<{ id: number }> } | Array<{ id: number }>>('GET', `/api/v1/builds/${build.id}/jobs`);
  const job = (Array.isArray(jobs) ? jobs : jobs.items)[0];
  if (job === undefined) throw new Error(`build ${build.id} has no job`);
  let firstByteMs = 0;
  for (;;) {
    const log = await api<{ size: number }>('GET', `/api/v1/jobs/${job.id}/log?offset=0&limit=1`);
    if (log.size > 0) {
      firstByteMs = performance.now() - started;
      break;
    }
    await delay(pollMs);
  }
  for (;;) {
    const { status } = await api<{ status: string }>('GET', `/api/v1/builds/${build.id}`);
    if (finished.has(status)) return { triggeredMs, firstByteMs, status };
    await delay(10);
  }
}
