import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decryptSecret } from '../../../src/server/crypto/index.js';
import { routeTable } from '../../../src/server/index.js';
import { errorOf, testConfig, uniqueName, useApi, type ApiTarget } from './harness.js';

/** A URL for a route with placeholder values for its path parameters. */
function sample(path: string): string {
  return path.replace(/:([A-Za-z_]+)/g, (_m, name: string) => (name === 'id' ? '1' : name === 'secret' ? 'SOME_SECRET' : 'some-project'));
}

// Webhooks are public to tokens: a provider's signature (or token) authenticates them instead.
const publicRoutes = [
  'GET /',
  'GET /assets/*',
  'GET /healthz',
  'GET /metrics',
  'GET /api/v1/openapi.json',
  'POST /api/v1/webhooks/github/:name',
  'POST /api/v1/webhooks/gitea/:name',
  'POST /api/v1/webhooks/gitlab/:name',
];

/** The HTTP API's behaviour, the same on every database. */
export function apiSuite(target: ApiTarget): void {
  describe(`HTTP API on ${target.name}`, target.skip === undefined ? {} : { skip: target.skip }, () => {
    const api = useApi(target);

    describe('authentication', () => {
      it('refuses every non-public route of the table without a token, with 401 and what to send', async () => {
        const table = routeTable(testConfig(), 'test');
        assert.deepEqual(
          table.filter((r) => r.scope === 'public').map((r) => `${r.method} ${r.path}`).sort(),
          [...publicRoutes].sort(),
          'the public routes are exactly these',
        );
        for (const route of table.filter((r) => r.scope !== 'public')) {
          const response = await api.call(route.method, sample(route.path), { token: null, body: route.body === undefined ? undefined : {} });
          const error = errorOf(response, 401);
          assert.equal(error.code, 'UNAUTHORIZED', `${route.method} ${route.path}`);
          assert.match(error.message, /Authorization: Bearer/);
        }
      });

      it('refuses an unknown token and a malformed header with 401', async () => {
        assert.equal(errorOf(await api.call('GET', '/api/v1/projects', { token: 'slw_api_nope' }), 401).code, 'UNAUTHORIZED');
        const response = await api.app.inject({ method: 'GET', url: '/api/v1/projects', headers: { authorization: `Basic ${api.tokens.admin}` } });
        assert.equal(errorOf(response, 401).code, 'UNAUTHORIZED');
      });

      it('lets a read token list but not create, and a write token create but not manage tokens', async () => {
        assert.equal((await api.call('GET', '/api/v1/projects', { token: api.tokens.read })).statusCode, 200);
        const body = { name: uniqueName('scoped'), repositoryUrl: 'https://git.example.com/a.git' };
        const refused = errorOf(await api.call('POST', '/api/v1/projects', { token: api.tokens.read, body }), 403);
        assert.equal(refused.code, 'FORBIDDEN');
        assert.match(refused.message, /write scope/);
        assert.equal((await api.call('POST', '/api/v1/projects', { token: api.tokens.write, body })).statusCode, 201);
        assert.equal(errorOf(await api.call('GET', '/api/v1/tokens', { token: api.tokens.write }), 403).code, 'FORBIDDEN');
        assert.equal((await api.call('GET', '/api/v1/tokens', { token: api.tokens.admin })).statusCode, 200);
      });

      it('does not let an agent registration token call the API', async () => {
        const created = await api.call('POST', '/api/v1/agent-tokens', { body: { name: 'agents of rack 4' } });
        assert.equal(created.statusCode, 201);
        const agentToken = created.json<{ token: string }>().token;
        assert.match(agentToken, /^slw_agent_/);
        assert.equal(errorOf(await api.call('GET', '/api/v1/projects', { token: agentToken }), 401).code, 'UNAUTHORIZED');
      });

      it('records when a token was last used', async () => {
        const created = (await api.call('POST', '/api/v1/tokens', { body: { name: 'ci bot', scopes: ['read'] } })).json<{ id: number; token: string }>();
        assert.equal((await api.store.tokens.get(created.id))?.lastUsedAt, null);
        await api.call('GET', '/api/v1/projects', { token: created.token });
        assert.notEqual((await api.store.tokens.get(created.id))?.lastUsedAt, null);
      });
    });

    describe('public routes and errors', () => {
      it('answers /healthz without a token', async () => {
        const response = await api.call('GET', '/healthz', { token: null });
        assert.equal(response.statusCode, 200);
        assert.deepEqual(response.json(), { status: 'ok', database: 'ok' });
      });

      it('serves Prometheus metrics without a token, counting requests by route', async () => {
        await api.call('GET', '/healthz', { token: null });
        const response = await api.call('GET', '/metrics', { token: null });
        assert.equal(response.statusCode, 200);
        assert.match(String(response.headers['content-type']), /^text\/plain/);
        assert.match(response.body, /slipway_http_requests_total\{method="GET",route="\/healthz",status="200"\}/);
      });

      it('answers an unknown route with 404 NOT_FOUND', async () => {
        const error = errorOf(await api.call('GET', '/api/v1/nothing-here'), 404);
        assert.equal(error.code, 'NOT_FOUND');
        assert.match(error.message, /GET \/api\/v1\/nothing-here/);
      });

      it('answers malformed JSON with 400 USAGE', async () => {
        const response = await api.app.inject({
          method: 'POST',
          url: '/api/v1/projects',
          headers: { authorization: `Bearer ${api.tokens.admin}`, 'content-type': 'application/json' },
          payload: '{"name": ',
        });
        assert.equal(errorOf(response, 400).code, 'USAGE');
      });

      it('publishes an OpenAPI 3.1 document listing every route of the table with its scope', async () => {
        const response = await api.call('GET', '/api/v1/openapi.json', { token: null });
        assert.equal(response.statusCode, 200);
        const document = response.json<{ openapi: string; paths: Record<string, Record<string, { 'x-slipway-scope': string; requestBody?: unknown }>> }>();
        assert.equal(document.openapi, '3.1.0');
        for (const route of routeTable(api.config, 'test')) {
          const operation = document.paths[route.path.replace(/:(\w+)/g, '{$1}')]?.[route.method.toLowerCase()];
          assert.ok(operation !== undefined, `${route.method} ${route.path} is in the document`);
          assert.equal(operation['x-slipway-scope'], route.scope);
          assert.equal(operation.requestBody !== undefined, route.body !== undefined);
        }
        const create = document.paths['/api/v1/projects']?.post?.requestBody as { content: { 'application/json': { schema: { required: string[] } } } };
        assert.deepEqual(create.content['application/json'].schema.required.sort(), ['name', 'repositoryUrl']);
      });
    });

    describe('projects', () => {
      it('creates, shows, changes and deletes a project', async () => {
        const name = uniqueName('app');
        const created = await api.call('POST', '/api/v1/projects', {
          body: { name, repositoryUrl: 'git@github.com:team/app.git', variables: { NODE_ENV: 'test' }, concurrencyLimit: 2 },
        });
        assert.equal(created.statusCode, 201, created.body);
        assert.deepEqual(
          { ...created.json<Record<string, unknown>>(), id: 0, createdAt: 0, updatedAt: 0 },
          {
            id: 0,
            name,
            repositoryUrl: 'git@github.com:team/app.git',
            defaultBranch: 'main',
            pipelinePath: '.slipway.yml',
            variables: { NODE_ENV: 'test' },
            concurrencyLimit: 2,
            priority: 0,
            pollIntervalSeconds: null,
            lastPolledCommit: null,
            createdAt: 0,
            updatedAt: 0,
          },
        );
        assert.equal((await api.call('GET', `/api/v1/projects/${name}`, { token: api.tokens.read })).json<{ name: string }>().name, name);
        const patched = await api.call('PATCH', `/api/v1/projects/${name}`, { body: { defaultBranch: 'release/2.0', concurrencyLimit: null, priority: 5 } });
        assert.equal(patched.statusCode, 200, patched.body);
        assert.deepEqual(
          (({ defaultBranch, concurrencyLimit, priority, variables }) => ({ defaultBranch, concurrencyLimit, priority, variables }))(patched.json()),
          { defaultBranch: 'release/2.0', concurrencyLimit: null, priority: 5, variables: { NODE_ENV: 'test' } },
        );
        assert.equal((await api.call('DELETE', `/api/v1/projects/${name}`)).statusCode, 204);
        assert.equal(errorOf(await api.call('GET', `/api/v1/projects/${name}`), 404).code, 'NOT_FOUND');
        assert.equal(errorOf(await api.call('DELETE', `/api/v1/projects/${name}`), 404).code, 'NOT_FOUND');
      });

      it('refuses a second project of the same name with 409 CONFLICT', async () => {
        const body = { name: uniqueName('twice'), repositoryUrl: '/srv/git/app' };
        assert.equal((await api.call('POST', '/api/v1/projects', { body })).statusCode, 201);
        const error = errorOf(await api.call('POST', '/api/v1/projects', { body }), 409);
        assert.equal(error.code, 'CONFLICT');
        assert.match(error.message, /already exists/);
      });

      it('accepts each supported repository form', async () => {
        for (const repositoryUrl of ['/srv/git/app.git', 'file:///srv/git/app', 'http://git.local/app.git', 'https://github.com/team/app', 'ssh://git@host:2222/team/app.git', 'git@github.com:team/app.git']) {
          const response = await api.call('POST', '/api/v1/projects', { body: { name: uniqueName('repo'), repositoryUrl } });
          assert.equal(response.statusCode, 201, `${repositoryUrl}: ${response.body}`);
        }
      });

      it('lists every problem of an invalid project as field: what to change', async () => {
        const error = errorOf(
          await api.call('POST', '/api/v1/projects', {
            body: { name: 'Bad Name', repositoryUrl: 'ftp://x/y', defaultBranch: '../x', pipelinePath: '/etc/passwd', concurrencyLimit: 0, priority: 1.5, pollIntervalSeconds: 5, colour: 'red' },
          }),
          400,
        );
        assert.equal(error.code, 'USAGE');
        const fields = error.message.split('; ').map((part) => part.slice(0, part.indexOf(':')));
        assert.deepEqual(fields.sort(), ['colour', 'concurrencyLimit', 'defaultBranch', 'name', 'pipelinePath', 'pollIntervalSeconds', 'priority', 'repositoryUrl']);
        assert.match(error.message, /repositoryUrl: give an absolute local path, a file:\/\/, http\(s\):\/\/ or ssh:\/\/ URL/);
        assert.match(error.message, /pollIntervalSeconds: poll at most every 10 seconds/);
        assert.match(error.message, /colour: unknown field/);
      });

      it('asks for a JSON body when a create comes without one', async () => {
        const error = errorOf(await api.call('POST', '/api/v1/projects'), 400);
        assert.match(error.message, /JSON body/);
      });

      it('pages through projects by name with a cursor until nextCursor is null', async () => {
        const prefix = uniqueName('page');
        const names = [3, 1, 4, 0, 2].map((n) => `${prefix}-${n}`);
        for (const name of names) await api.call('POST', '/api/v1/projects', { body: { name, repositoryUrl: '/srv/git/x' } });
        const seen: string[] = [];
        let cursor: string | null = null;
        let pages = 0;
        do {
          const url: string = `/api/v1/projects?limit=2${cursor === null ? '' : `&cursor=${encodeURIComponent(cursor)}`}`;
          const response = await api.call('GET', url, { token: api.tokens.read });
          assert.equal(response.statusCode, 200, response.body);
          const body = response.json<{ items: Array<{ name: string }>; nextCursor: string | null }>();
          assert.ok(body.items.length <= 2);
          seen.push(...body.items.map((p) => p.name));
          cursor = body.nextCursor;
          pages += 1;
        } while (cursor !== null && pages < 1000);
        assert.deepEqual(seen.filter((n) => n.startsWith(prefix)), [...names].sort());
        assert.deepEqual(seen, [...seen].sort(), 'by name');
      });

      it('refuses a bad page limit and a foreign cursor with 400', async () => {
        assert.match(errorOf(await api.call('GET', '/api/v1/projects?limit=0'), 400).message, /^limit: give a whole number from 1 to 500/);
        assert.match(errorOf(await api.call('GET', '/api/v1/projects?limit=ten'), 400).message, /^limit:/);
        const tokensPage = (await api.call('GET', '/api/v1/tokens?limit=1')).json<{ nextCursor: string }>();
        assert.match(errorOf(await api.call('GET', `/api/v1/projects?cursor=${tokensPage.nextCursor}`), 400).message, /cursor/);
      });
    });

    describe('secrets', () => {
      it('stores a secret sealed, lists only its name, and deletes it', async () => {
        const name = uniqueName('sec');
        const project = (await api.call('POST', '/api/v1/projects', { body: { name, repositoryUrl: '/srv/git/x' } })).json<{ id: number }>();
        const put = await api.call('PUT', `/api/v1/projects/${name}/secrets/DEPLOY_KEY`, { token: api.tokens.write, body: { value: 'hunter2-plaintext' } });
        assert.equal(put.statusCode, 200, put.body);
        assert.equal(put.json<{ name: string }>().name, 'DEPLOY_KEY');
        assert.ok(!put.body.includes('hunter2'));

        const listed = await api.call('GET', `/api/v1/projects/${name}/secrets`, { token: api.tokens.read });
        assert.equal(listed.statusCode, 200);
        assert.deepEqual(listed.json<{ items: Array<{ name: string }> }>().items.map((s) => Object.keys(s).sort()), [['name', 'updatedAt']]);
        assert.ok(!listed.body.includes('hunter2'));
        assert.ok(!(await api.call('GET', `/api/v1/projects/${name}`)).body.includes('hunter2'));

        const [row] = await api.store.secrets.listEncrypted(project.id);
        assert.ok(row !== undefined);
        assert.ok(!row.ciphertext.includes('hunter2'), 'the database holds no plaintext');
        assert.equal(decryptSecret(api.key, { projectId: project.id, name: 'DEPLOY_KEY' }, row.ciphertext), 'hunter2-plaintext');

        assert.equal((await api.call('DELETE', `/api/v1/projects/${name}/secrets/DEPLOY_KEY`)).statusCode, 204);
        assert.equal(errorOf(await api.call('DELETE', `/api/v1/projects/${name}/secrets/DEPLOY_KEY`), 404).code, 'NOT_FOUND');
      });

      it('refuses a secret with an invalid name or for a missing project', async () => {
        assert.match(errorOf(await api.call('PUT', '/api/v1/projects/no-such-project/secrets/A', { body: { value: 'x' } }), 404).message, /no project named/);
        const name = uniqueName('sec');
        await api.call('POST', '/api/v1/projects', { body: { name, repositoryUrl: '/srv/git/x' } });
        assert.match(errorOf(await api.call('PUT', `/api/v1/projects/${name}/secrets/1-bad`, { body: { value: 'x' } }), 400).message, /^secret: use letters/);
      });
    });

    describe('tokens', () => {
      it('shows a new token once, lists it without its value, and refuses it once revoked', async () => {
        const created = await api.call('POST', '/api/v1/tokens', { body: { name: 'deployer', scopes: ['write'] } });
        assert.equal(created.statusCode, 201, created.body);
        const { id, token } = created.json<{ id: number; token: string }>();
        assert.match(token, /^slw_api_/);
        assert.equal((await api.call('GET', '/api/v1/projects', { token })).statusCode, 200);

        const listed = await api.call('GET', '/api/v1/tokens?limit=500');
        assert.ok(!listed.body.includes(token));
        assert.ok(listed.json<{ items: Array<{ id: number; name: string }> }>().items.some((t) => t.id === id && t.name === 'deployer'));

        assert.equal((await api.call('DELETE', `/api/v1/tokens/${id}`)).statusCode, 204);
        assert.equal(errorOf(await api.call('GET', '/api/v1/projects', { token }), 401).code, 'UNAUTHORIZED');
        assert.equal((await api.call('DELETE', `/api/v1/tokens/${id}`)).statusCode, 204, 'revoking twice is fine');
        assert.equal(errorOf(await api.call('DELETE', '/api/v1/tokens/999999'), 404).code, 'NOT_FOUND');
      });

      it('refuses a token without scopes or with an unknown one', async () => {
        assert.match(errorOf(await api.call('POST', '/api/v1/tokens', { body: { name: 'x', scopes: [] } }), 400).message, /scopes: give at least one scope/);
        assert.match(errorOf(await api.call('POST', '/api/v1/tokens', { body: { name: 'x', scopes: ['root'] } }), 400).message, /scopes\.0: give read, write or admin/);
      });

      it('revokes agent registration tokens through their own routes only', async () => {
        const { id } = (await api.call('POST', '/api/v1/agent-tokens', { body: { name: 'rack 5' } })).json<{ id: number }>();
        assert.equal(errorOf(await api.call('DELETE', `/api/v1/tokens/${id}`), 404).code, 'NOT_FOUND');
        const listed = (await api.call('GET', '/api/v1/agent-tokens')).json<{ items: Array<{ id: number }> }>();
        assert.ok(listed.items.some((t) => t.id === id));
        assert.equal((await api.call('DELETE', `/api/v1/agent-tokens/${id}`)).statusCode, 204);
        assert.notEqual((await api.store.tokens.get(id))?.revokedAt, null);
      });
    });
  });
}
