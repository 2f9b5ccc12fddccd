import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { describe, it } from 'node:test';
import { pino } from 'pino';
import { errorOf, sqliteTarget, useApi } from './harness.js';
import { apiSuite } from './suite.js';

apiSuite(sqliteTarget);

describe('HTTP API with metrics behind a token', () => {
  const api = useApi(sqliteTarget, { SLIPWAY_METRICS_REQUIRE_TOKEN: 'true' });

  it('asks for a read token on /metrics', async () => {
    assert.equal(errorOf(await api.call('GET', '/metrics', { token: null }), 401).code, 'UNAUTHORIZED');
    assert.equal((await api.call('GET', '/metrics', { token: api.tokens.read })).statusCode, 200);
  });
});

describe('HTTP API with metrics off', () => {
  const api = useApi(sqliteTarget, { SLIPWAY_METRICS_ENABLED: 'false' });

  it('has no /metrics route', async () => {
    assert.equal(errorOf(await api.call('GET', '/metrics', { token: null }), 404).code, 'NOT_FOUND');
  });
});

describe('HTTP API request log', () => {
  const lines: string[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(...chunk.toString('utf8').split('\n').filter((line) => line !== ''));
      done();
    },
  });
  const api = useApi(sqliteTarget, {}, pino({ level: 'info' }, sink));

  it('writes one line per request with the token id and never the token or the query string', async () => {
    await api.call('GET', '/api/v1/projects?limit=7&cursor=c2VjcmV0', { token: api.tokens.read });
    const logged = lines.map((line) => JSON.parse(line) as Record<string, unknown>).filter((entry) => entry.msg === 'request');
    assert.equal(logged.length, 1, lines.join('\n'));
    assert.equal(logged[0]?.path, '/api/v1/projects');
    assert.equal(logged[0]?.statusCode, 400, 'the cursor is not a real one');
    assert.equal(typeof logged[0]?.tokenId, 'number');
    for (const line of lines) {
      assert.ok(!line.includes(api.tokens.read), 'the token is in no log line');
      assert.ok(!line.includes('c2VjcmV0'), 'the query string is in no log line');
    }
  });
});
