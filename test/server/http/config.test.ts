import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isSlipwayError } from '../../../src/errors/index.js';
import { ensureSecretsKey, loadConfig, readConfigFile, type LoadConfigInput } from '../../../src/server/index.js';

/** The problems a CONFIG_INVALID error lists. */
function problemsOf(input: LoadConfigInput): string[] {
  try {
    loadConfig(input);
  } catch (error) {
    assert.ok(isSlipwayError(error, 'CONFIG_INVALID'), `expected CONFIG_INVALID, got ${String(error)}`);
    return (error.details as { problems: string[] }).problems;
  }
  return assert.fail('the configuration was accepted');
}

describe('server configuration', () => {
  it('fills every default, with paths under the home directory', () => {
    const config = loadConfig({ env: {}, cwd: '/srv' });
    assert.equal(config.home, '/srv/.slipway');
    assert.deepEqual(config.listen, { host: '127.0.0.1', port: 8080 });
    assert.equal(config.publicUrl, 'http://127.0.0.1:8080');
    assert.equal(config.database.url, 'sqlite:/srv/.slipway/slipway.db');
    assert.equal(config.logs.dir, '/srv/.slipway/logs');
    assert.equal(config.blobs.dir, '/srv/.slipway/blobs');
    assert.equal(config.secretsKey, undefined);
    assert.deepEqual(config.agents, { heartbeatIntervalMs: 10_000, unreachableAfterMs: 30_000, lostAfterMs: 120_000, noProgressTimeoutMs: 3_600_000 });
    assert.deepEqual(config.webhooks, { maxBodyBytes: 1_048_576 });
    assert.deepEqual(config.metrics, { enabled: true, requireToken: false });
    assert.deepEqual(config.engines.map((engine) => [engine.kind, engine.name, engine.templates.map((template) => template.name)]), [['local', 'local', ['default']]]);
    assert.equal(config.logLevel, 'info');
  });

  it('lets the environment win over the file, and flags win over both', () => {
    const fileText = ['home: /from/file', 'listen: { host: 0.0.0.0, port: 9000 }', 'database: { url: "postgres://file@db/slipway" }', 'metrics: { requireToken: false }', 'agents: { lostAfterMs: 600000 }'].join('\n');
    const env = { SLIPWAY_HOME: '/from/env', SLIPWAY_LISTEN: '10.0.0.1:9100', SLIPWAY_METRICS_REQUIRE_TOKEN: 'true', SLIPWAY_PUBLIC_URL: 'https://ci.example.com/', UNRELATED: 'x' };
    const config = loadConfig({ fileText, env, cwd: '/' });
    assert.equal(config.home, '/from/env');
    assert.deepEqual(config.listen, { host: '10.0.0.1', port: 9100 });
    assert.equal(config.database.url, 'postgres://file@db/slipway');
    assert.equal(config.metrics.requireToken, true);
    assert.equal(config.agents.lostAfterMs, 600_000, 'file options the environment does not set stay');
    assert.equal(config.agents.heartbeatIntervalMs, 10_000, 'siblings keep their defaults');
    assert.equal(config.publicUrl, 'https://ci.example.com');

    const flagged = loadConfig({ fileText, env, cwd: '/', flags: { home: '/from/flag', listen: '127.0.0.1:0', database: 'sqlite:/tmp/x.db' } });
    assert.equal(flagged.home, '/from/flag');
    assert.deepEqual(flagged.listen, { host: '127.0.0.1', port: 0 });
    assert.equal(flagged.database.url, 'sqlite:/tmp/x.db');
  });

  it('keeps the listen host when only a port is given', () => {
    assert.deepEqual(loadConfig({ env: { SLIPWAY_LISTEN: '9090' }, fileText: 'listen: { host: 0.0.0.0 }' }).listen, { host: '0.0.0.0', port: 9090 });
    assert.deepEqual(loadConfig({ env: { SLIPWAY_LISTEN: '[::1]:9090' } }).publicUrl, 'http://[::1]:9090');
  });

  it('lists every problem at once, each as where: what to change', () => {
    const fileText = [
      'listen: { port: 70000 }',
      'publicUrl: ftp://ci',
      'database: { url: "mysql://db/x" }',
      'agents: { heartbeatIntervalMs: 5000, unreachableAfterMs: 4000 }',
      'metrics: { enabled: maybe }',
      'webhooks: { maxBodyBytes: 10 }',
      'colour: blue',
    ].join('\n');
    const problems = problemsOf({ fileText, env: { SLIPWAY_LISTEN: 'nowhere', SLIPWAY_METRICS_REQUIRE_TOKEN: 'sometimes' } });
    assert.deepEqual(problems.map((p) => p.slice(0, p.indexOf(':'))).sort(), [
      'SLIPWAY_LISTEN',
      'SLIPWAY_METRICS_REQUIRE_TOKEN',
      'agents.unreachableAfterMs',
      'colour',
      'listen.port',
      'metrics.enabled',
      'publicUrl',
      'webhooks.maxBodyBytes',
    ]);
    assert.ok(problems.includes('listen.port: give listen.port as a whole number from 0 to 65535'));
    assert.ok(problems.includes('colour: unknown field, remove it or check its spelling'));
    assert.ok(problems.some((p) => p.startsWith('SLIPWAY_LISTEN: write it as HOST:PORT')));
  });

  it('checks the database URL and the secrets key once the rest is valid', () => {
    const problems = problemsOf({ env: { SLIPWAY_DATABASE: 'mysql://db/x', SLIPWAY_SECRETS_KEY: 'too-short' } });
    assert.equal(problems.length, 2);
    assert.match(problems[0] ?? '', /^database\.url: unsupported database "mysql"/);
    assert.match(problems[1] ?? '', /^secretsKey: the secrets key must be 32 bytes/);
  });

  it('points at the line of a YAML syntax error and refuses a file that is not a mapping', () => {
    assert.match(problemsOf({ fileText: 'listen:\n  port: [1,\n', filePath: '/etc/slipway.yml' })[0] ?? '', /^\/etc\/slipway\.yml:\d+:\d+: /);
    assert.match(problemsOf({ fileText: '- a\n- b\n' })[0] ?? '', /must be a mapping of options/);
  });

  it('reads slipway.yml from the home directory when there is one, and requires an explicit --config file', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'slipway-config-'));
    try {
      assert.equal(await readConfigFile({ flags: { home } }), null);
      await import('node:fs/promises').then((fs) => fs.writeFile(path.join(home, 'slipway.yml'), 'listen: { port: 9999 }\n'));
      const found = await readConfigFile({ env: { SLIPWAY_HOME: home } });
      assert.equal(found?.filePath, path.join(home, 'slipway.yml'));
      assert.equal(loadConfig({ ...found, env: {} }).listen.port, 9999);
      await assert.rejects(readConfigFile({ configPath: path.join(home, 'missing.yml') }), (error) => isSlipwayError(error, 'CONFIG_INVALID') && /missing\.yml/.test(error.message));
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });

  it('creates the secrets key on first start with mode 0600 and reads the same key afterwards', async () => {
    const home = await mkdtemp(path.join(tmpdir(), 'slipway-key-'));
    try {
      const first = await ensureSecretsKey({ home });
      assert.equal(first.source, 'created');
      assert.equal((await stat(path.join(home, 'secrets.key'))).mode & 0o777, 0o600);
      const second = await ensureSecretsKey({ home });
      assert.equal(second.source, 'file');
      assert.ok(first.key.equals(second.key));
      assert.ok(Buffer.from((await readFile(path.join(home, 'secrets.key'), 'utf8')).trim(), 'base64').equals(first.key));
      const configured = await ensureSecretsKey({ home, secretsKey: Buffer.alloc(32, 7).toString('base64') });
      assert.equal(configured.source, 'config');
    } finally {
      await rm(home, { recursive: true, force: true });
    }
  });
});
