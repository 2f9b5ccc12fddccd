import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { pino, type Logger } from 'pino';
import { adminPool, postgresTestUrl, unreachableReason } from '../../support/postgres.js';
import { buildApp, createToken, loadConfig, type ServerConfig } from '../../../src/server/index.js';
import { parseSecretsKey, newSecretsKey } from '../../../src/server/crypto/index.js';
import { openStore, redactUrl, type Store, type TokenScope } from '../../../src/store/index.js';

/** Where an API suite's database lives: an SQLite file, or a PostgreSQL schema of its own. */
export type ApiTarget = {
  readonly name: string;
  /** Set when the target cannot run here; the suite is skipped with this reason. */
  readonly skip?: string;
  /** A fresh empty database; drop() removes it. */
  fresh(): Promise<{ url: string; schema?: string; drop(): Promise<void> }>;
};

export const sqliteTarget: ApiTarget = {
  name: 'SQLite',
  async fresh() {
    const dir = await mkdtemp(path.join(tmpdir(), 'slipway-api-'));
    return { url: `sqlite:${path.join(dir, 'slipway.db')}`, drop: () => rm(dir, { recursive: true, force: true }) };
  },
};

const postgresUrl = postgresTestUrl;

/** PostgreSQL when it answers; without it the suite is skipped, except on CI where that is a failure. */
export async function postgresTarget(): Promise<ApiTarget> {
  const admin = adminPool(1);
  const reason = await unreachableReason(admin);
  const skip =
    reason === null || process.env.CI ? undefined : `PostgreSQL is not reachable at ${redactUrl(postgresUrl)} (${reason}); set SLIPWAY_TEST_POSTGRES_URL`;
  return {
    name: 'PostgreSQL',
    ...(skip === undefined ? {} : { skip }),
    async fresh() {
      if (reason !== null) assert.fail(`cannot reach PostgreSQL at ${redactUrl(postgresUrl)}: ${reason}; CI must test PostgreSQL`);
      const schema = `slipway_api_${process.pid}_${randomBytes(4).toString('hex')}`;
      return { url: postgresUrl, schema, drop: async () => void (await admin.query(`drop schema if exists ${schema} cascade`)) };
    },
  };
}

export type Api = {
  readonly app: FastifyInstance;
  readonly store: Store;
  readonly config: ServerConfig;
  readonly key: Buffer;
  /** Raw tokens of each scope, made before the tests run. */
  readonly tokens: Record<TokenScope, string>;
  call(method: string, url: string, options?: { token?: string | null; body?: unknown }): Promise<LightMyRequestResponse>;
};

/** A test config: every default, under a home that is never written to. */
export function testConfig(overrides: Record<string, string> = {}): ServerConfig {
  return loadConfig({ env: overrides, cwd: tmpdir(), flags: { home: '/nonexistent/slipway-home' } });
}

/** An app on a fresh database for the tests of the enclosing describe; removed afterwards. */
export function useApi(target: ApiTarget, env: Record<string, string> = {}, logger: Logger = pino({ level: 'silent' })): Api {
  let state: Omit<Api, 'call'> | undefined;
  let drop: (() => Promise<void>) | undefined;
  before(async () => {
    const database = await target.fresh();
    drop = database.drop;
    const store = await openStore({ url: database.url, ...(database.schema === undefined ? {} : { schema: database.schema }), logger: pino({ level: 'silent' }) });
    const config = testConfig(env);
    const key = parseSecretsKey(newSecretsKey());
    const app = buildApp({ config, store, secretsKey: key, logger });
    await app.ready();
    const tokens = {} as Record<TokenScope, string>;
    for (const scope of ['read', 'write', 'admin'] as const) {
      tokens[scope] = (await createToken(store, { kind: 'api', name: `test ${scope}`, scopes: [scope] })).secret;
    }
    state = { app, store, config, key, tokens };
  });
  after(async () => {
    await state?.app.close();
    await state?.store.close();
    await drop?.();
  });
  const get = () => {
    if (state === undefined) throw new Error('the app is built in before()');
    return state;
  };
  return {
    get app() {
      return get().app;
    },
    get store() {
      return get().store;
    },
    get config() {
      return get().config;
    },
    get key() {
      return get().key;
    },
    get tokens() {
      return get().tokens;
    },
    call(method, url, options = {}) {
      const token = options.token === undefined ? get().tokens.admin : options.token;
      return get().app.inject({
        method: method as 'GET',
        url,
        headers: token === null ? {} : { authorization: `Bearer ${token}` },
        ...(options.body === undefined ? {} : { payload: options.body as Record<string, unknown> }),
      });
    },
  };
}

let counter = 0;

/** A project name no other test uses. */
export function uniqueName(prefix: string): string {
  counter += 1;
  return `${prefix}-${counter}-${randomBytes(3).toString('hex')}`;
}

/** The `{ code, message }` of an error answer, after checking its status. */
export function errorOf(response: LightMyRequestResponse, status: number): { code: string; message: string } {
  assert.equal(response.statusCode, status, `expected ${status}, got ${response.statusCode}: ${response.body}`);
  return response.json<{ code: string; message: string }>();
}
