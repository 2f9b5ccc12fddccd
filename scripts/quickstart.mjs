#!/usr/bin/env node
// The quick start (`npm start`): runs the example project's pipeline on a real Slipway
// server with the embedded default (SQLite, the local engine), end to end through the API.
//
//  1. Starts `slipway server` with SLIPWAY_HOME (default ./.slipway/quickstart, emptied
//     first) on 127.0.0.1:8080, or a free port when 8080 is taken.
//  2. Copies examples/node-lib into a git repository of its own in the home (the server
//     builds repositories, and the example's pipeline runs from its repository's root).
//  3. Registers it as a project, triggers a build, follows every job's log to the end.
//  4. Stops the server (SIGTERM) and the agents its local engine launched.
// Exits 0 only when the build succeeded. Run `npm run build` first (npm start does).
import { execFileSync, spawn } from 'node:child_process';
import { cp, mkdir, open, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const home = path.resolve(process.env.SLIPWAY_HOME || path.join('.slipway', 'quickstart'));
const exampleDir = path.join(home, 'example');
const finished = new Set(['success', 'failed', 'canceled', 'error', 'skipped']);
// How often the build and its logs are read: fast enough to feel live, cheap for the server.
const POLL_MS = 200;

const say = (line) => process.stdout.write(`${line}\n`);

/** Stops the agents the local engine of this home launched (they outlive the server on purpose). */
async function stopAgents() {
  let serverId;
  try {
    serverId = (await readFile(path.join(home, 'server-id'), 'utf8')).trim();
  } catch (error) {
    if (error.code === 'ENOENT') return; // no server ever ran here
    throw error;
  }
  const { createLocalEngine, DEFAULT_TEMPLATE } = await import('../dist/src/engines/index.js');
  const engine = createLocalEngine({ serverId, stateDir: path.join(home, 'engines', 'local'), agentCommand: [process.execPath], templates: [DEFAULT_TEMPLATE], stopGraceMs: 5000, baseEnv: process.env });
  try {
    await Promise.all((await engine.list()).map((task) => engine.stop(task.id)));
  } finally {
    await engine.close();
  }
}

function portFree(port) {
  return new Promise((resolve) => {
    const probe = net.createServer();
    probe.once('error', () => resolve(false));
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolve(true)));
  });
}

async function makeExampleRepository() {
  await cp(path.join(root, 'examples', 'node-lib'), exampleDir, { recursive: true, filter: (src) => !/[/\\](\.slipway|dist|out|node_modules|\.npm)$/.test(src) });
  const env = { ...process.env, GIT_AUTHOR_NAME: 'Slipway quick start', GIT_AUTHOR_EMAIL: 'quickstart@slipway.invalid', GIT_COMMITTER_NAME: 'Slipway quick start', GIT_COMMITTER_EMAIL: 'quickstart@slipway.invalid' };
  const git = (...args) => execFileSync('git', args, { cwd: exampleDir, env, stdio: ['ignore', 'ignore', 'inherit'] });
  git('init', '-q', '-b', 'main');
  git('add', '-A');
  git('commit', '-q', '-m', 'The example project, for the quick start');
}

/** Starts `slipway server`; resolves with its URL and the admin token it prints on first start. */
async function startServer(port) {
  const log = await open(path.join(home, 'server.log'), 'a');
  const child = spawn(process.execPath, [path.join(root, 'bin', 'slipway.js'), 'server', '--home', home, '--listen', `127.0.0.1:${port}`], {
    cwd: home,
    env: { ...process.env, SLIPWAY_LOG_LEVEL: process.env.SLIPWAY_LOG_LEVEL || 'warn' },
    stdio: ['ignore', 'pipe', log.fd],
  });
  await log.close();
  let output = '';
  const started = await new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the server exited (code ${code}) before listening; see ${path.join(home, 'server.log')}:\n${output}`)));
    child.stdout.setEncoding('utf8').on('data', (chunk) => {
      output += chunk;
      const url = /Slipway server listening on (\S+)/.exec(output)?.[1];
      const token = /Admin token \(shown once\): (\S+)/.exec(output)?.[1];
      if (url !== undefined && token !== undefined) resolve({ url, token });
    });
  });
  child.removeAllListeners('exit');
  return { child, ...started };
}

function stopServer(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  const exited = new Promise((resolve) => child.once('exit', resolve));
  process.kill(child.pid, 'SIGTERM');
  return exited;
}

function client(url, token) {
  return async (method, route, body) => {
    const response = await fetch(`${url}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${route}: HTTP ${response.status} ${text}`);
    return text === '' ? undefined : JSON.parse(text);
  };
}

// A stored log marks its sections as GitLab's do (docs/storage.md): ESC[0Ksection_start:TIME:NAME\rESC[0K.
// A terminal hides a marker by returning to the line's start, which would hide the job-name prefix too.
// eslint-disable-next-line no-control-regex
const SECTION_MARKER = /\x1b\[0Ksection_(?:start|end):\d+:[^\r\n]*\r\x1b\[0K/g;
const withoutSectionMarkers = (line) => line.replace(SECTION_MARKER, '');

/** Prints every job's log as it grows, and each job's result once it ended; resolves with the build. */
async function follow(api, buildId) {
  const jobs = new Map(); // id → { offset, partial, done }
  for (;;) {
    const build = await api('GET', `/api/v1/builds/${buildId}`);
    const page = await api('GET', `/api/v1/builds/${buildId}/jobs`);
    const list = Array.isArray(page) ? page : page.items;
    for (const job of list) {
      const seen = jobs.get(job.id) ?? { offset: 0, partial: '', done: false };
      jobs.set(job.id, seen);
      if (seen.done || ['created', 'pending', 'manual', 'scheduled'].includes(job.status)) continue;
      for (;;) {
        const read = await api('GET', `/api/v1/jobs/${job.id}/log?offset=${seen.offset}`);
        const lines = (seen.partial + read.text).split('\n');
        seen.partial = lines.pop() ?? '';
        for (const line of lines) say(`[${job.name}] ${withoutSectionMarkers(line)}`);
        seen.offset = read.nextOffset;
        if (read.nextOffset >= read.size) break;
      }
      if (finished.has(job.status)) {
        if (seen.partial !== '') say(`[${job.name}] ${withoutSectionMarkers(seen.partial)}`);
        seen.done = true;
        say(`${job.name.padEnd(24)} ${job.status}`);
      }
    }
    // The build was read before its jobs: when it has ended, so have the jobs just printed.
    if (finished.has(build.status)) {
      for (const job of list) if (!jobs.get(job.id)?.done) say(`${job.name.padEnd(24)} ${job.status}`);
      return build;
    }
    await delay(POLL_MS);
  }
}

async function main() {
  // A clean start each time: the admin token is shown only on a home's first start.
  await stopAgents();
  await rm(home, { recursive: true, force: true });
  await mkdir(home, { recursive: true });
  await makeExampleRepository();
  const port = (await portFree(8080)) ? 8080 : 0;
  const server = await startServer(port);
  const stopEverything = async () => {
    await stopServer(server.child);
    await stopAgents();
  };
  const interrupt = () => {
    void stopEverything().finally(() => process.exit(130));
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);
  try {
    say(`Slipway server: ${server.url} (home ${home}; admin token in ${path.join(home, 'admin-token')})`);
    await writeFile(path.join(home, 'admin-token'), `${server.token}\n`, { mode: 0o600 });
    const api = client(server.url, server.token);
    await api('POST', '/api/v1/projects', { name: 'node-lib', repositoryUrl: exampleDir });
    const build = await api('POST', '/api/v1/projects/node-lib/builds', {});
    say(`Build #${build.id}: ${server.url}/builds/${build.id} (the web UI, while this runs: sign in with the admin token; the API: ${server.url}/api/v1/builds/${build.id})`);
    const done = await follow(api, build.id);
    say(`Build #${done.id} ${done.status === 'success' ? 'succeeded' : `did not succeed: ${done.status}`}`);
    return done.status === 'success' ? 0 : 1;
  } finally {
    process.off('SIGINT', interrupt);
    process.off('SIGTERM', interrupt);
    await stopEverything();
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    process.stderr.write(`quick start failed: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  },
);
