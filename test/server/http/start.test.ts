import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { pino } from 'pino';
import { loadConfig, startServer } from '../../../src/server/index.js';
import { startSlipway } from '../../cli/cli.js';
import { waitFor } from '../../support/wait.js';

describe('starting the server', () => {
  let home = '';
  before(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'slipway-start-'));
  });
  after(() => rm(home, { recursive: true, force: true }));

  it('prints an admin token on first start only, and that token opens the API', async () => {
    const config = loadConfig({ env: {}, flags: { home, listen: '127.0.0.1:0' } });
    const printed: string[] = [];
    const options = { baseEnv: process.env, logger: pino({ level: 'silent' }), print: (line: string) => void printed.push(line) };

    const first = await startServer(config, options);
    let token = '';
    try {
      assert.equal(printed.length, 1);
      token = /^Admin token \(shown once\): (slw_api_\S+)$/.exec(printed[0] ?? '')?.[1] ?? '';
      assert.notEqual(token, '', `printed: ${printed[0]}`);
      const health = await fetch(`${first.url}/healthz`);
      assert.deepEqual(await health.json(), { status: 'ok', database: 'ok' });
      const tokens = await fetch(`${first.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(tokens.status, 200);
    } finally {
      await first.close();
    }
    await assert.rejects(fetch(`${first.url}/healthz`), 'the first server stopped listening');

    const second = await startServer(config, options);
    try {
      assert.equal(printed.length, 1, 'the second start prints nothing');
      const tokens = await fetch(`${second.url}/api/v1/tokens`, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(tokens.status, 200, 'the first token still works');
    } finally {
      await second.close();
      await second.close();
    }
  });
});

describe('slipway server', () => {
  let home = '';
  before(async () => {
    home = await mkdtemp(path.join(tmpdir(), 'slipway-server-'));
  });
  after(() => rm(home, { recursive: true, force: true }));

  it('serves /healthz, lets the CLI create and list projects, and stops cleanly on SIGTERM', async () => {
    const server = startSlipway(['server', '--listen', '127.0.0.1:0', '--home', path.join(home, 'data')], { cwd: home, env: { SLIPWAY_LOG_LEVEL: 'warn' } });
    let stdout = '';
    server.process.stdout?.on('data', (chunk: string) => (stdout += chunk));
    try {
      const url = await waitFor('the server to print its URL', () => /listening on (http:\/\/\S+)/.exec(stdout)?.[1]);
      const token = /Admin token \(shown once\): (slw_api_\S+)/.exec(stdout)?.[1];
      assert.ok(token !== undefined, stdout);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);

      const client = ['--server', url, '--token', token];
      const created = await startSlipway(['project', 'create', 'demo', '--repo', 'https://git.example.com/demo.git', '--branch', 'trunk', ...client], { cwd: home }).done;
      assert.equal(created.code, 0, created.stderr);
      assert.match(created.stdout, /Project demo created/);

      const listed = await startSlipway(['project', 'list', '--json', ...client], { cwd: home }).done;
      assert.equal(listed.code, 0, listed.stderr);
      assert.deepEqual(
        (JSON.parse(listed.stdout) as Array<{ name: string; defaultBranch: string }>).map((p) => [p.name, p.defaultBranch]),
        [['demo', 'trunk']],
      );
      const table = await startSlipway(['project', 'list', ...client], { cwd: home }).done;
      assert.match(table.stdout, /^NAME\s+REPOSITORY\s+BRANCH\s+PIPELINE\ndemo\s+https:\/\/git\.example\.com\/demo\.git\s+trunk\s+\.slipway\.yml\n$/);

      const again = await startSlipway(['project', 'create', 'demo', '--repo', 'https://git.example.com/demo.git', ...client], { cwd: home }).done;
      assert.equal(again.code, 1);
      assert.equal(again.stderr, 'slipway: a project named "demo" already exists; choose another name\n');

      const anonymous = await startSlipway(['project', 'list', '--server', url], { cwd: home, env: { SLIPWAY_TOKEN: '' } }).done;
      assert.equal(anonymous.code, 1);
      assert.match(anonymous.stderr, /^slipway: send an API token in Authorization: Bearer/);
    } finally {
      server.process.kill('SIGTERM');
    }
    const exit = await server.done;
    assert.equal(exit.code, 0, exit.stderr);
  });
});
