import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { LightMyRequestResponse } from 'fastify';
import { fileInside, uiDirOf } from '../../src/server/http/routes/ui.js';
import { loadConfig } from '../../src/server/index.js';
import { sqliteTarget, useApi } from './http/harness.js';

const root = path.join(tmpdir(), `slipway-ui-${process.pid}-${randomBytes(4).toString('hex')}`);
const uiDir = path.join(root, 'web');
const indexHtml = '<!doctype html><html><head><script type="module" src="/assets/index-abc123.js"></script></head><body><div id="app"></div></body></html>\n';
const script = 'console.log("slipway ui");\n';

async function writeUi(): Promise<void> {
  await mkdir(path.join(uiDir, 'assets'), { recursive: true });
  await writeFile(path.join(uiDir, 'index.html'), indexHtml);
  await writeFile(path.join(uiDir, 'assets', 'index-abc123.js'), script);
  await writeFile(path.join(uiDir, 'assets', 'index-abc123.css'), 'body { margin: 0 }\n');
  await writeFile(path.join(uiDir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>\n');
  // Beside the UI, never to be served.
  await writeFile(path.join(root, 'secret.txt'), 'not for browsers\n');
  await writeFile(path.join(uiDir, '.env'), 'SECRET=1\n');
}

function assertHtmlHeaders(response: LightMyRequestResponse): void {
  assert.match(String(response.headers['content-type']), /^text\/html/);
  assert.equal(response.headers['cache-control'], 'no-cache');
  const csp = String(response.headers['content-security-policy']);
  assert.match(csp, /default-src 'self'/);
  assert.match(csp, /frame-ancestors 'none'/);
  assert.doesNotMatch(csp, /https?:|\*/, 'no other host');
  assert.equal(response.headers['x-content-type-options'], 'nosniff');
  assert.equal(response.headers['referrer-policy'], 'no-referrer');
}

describe('the web UI served by the server', () => {
  const api = useApi(sqliteTarget, { SLIPWAY_UI_DIR: uiDir });
  before(writeUi);
  after(() => rm(root, { recursive: true, force: true }));

  const get = (url: string, accept = 'text/html,application/xhtml+xml', headers: Record<string, string> = {}) =>
    api.app.inject({ method: 'GET', url, headers: { accept, ...headers } });

  it('answers / with index.html, uncached and with strict security headers, without a token', async () => {
    const response = await get('/');
    assert.equal(response.statusCode, 200);
    assert.equal(response.body, indexHtml);
    assertHtmlHeaders(response);
  });

  it('answers any page a browser asks for outside the API with index.html, so the UI routes it', async () => {
    for (const url of ['/projects/demo/builds/3', '/agents', '/settings/tokens?x=1']) {
      const response = await get(url);
      assert.equal(response.statusCode, 200, url);
      assert.equal(response.body, indexHtml, url);
      assertHtmlHeaders(response);
    }
  });

  it('keeps JSON 404s for the API, /healthz neighbours and callers that do not ask for HTML', async () => {
    for (const url of ['/api/v1/nothing-here', '/api/nothing']) {
      const response = await get(url);
      assert.equal(response.statusCode, 404, url);
      assert.equal(response.json<{ code: string }>().code, 'NOT_FOUND');
    }
    const script = await get('/projects/demo', 'application/json');
    assert.equal(script.statusCode, 404);
    assert.equal(script.json<{ code: string }>().code, 'NOT_FOUND');
    const post = await api.app.inject({ method: 'POST', url: '/projects/demo', headers: { accept: 'text/html' } });
    assert.equal(post.statusCode, 404);
  });

  it('serves hashed assets with their content type, cached for a year', async () => {
    const js = await get('/assets/index-abc123.js', '*/*');
    assert.equal(js.statusCode, 200);
    assert.equal(js.body, script);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.equal(js.headers['cache-control'], 'public, max-age=31536000, immutable');
    assert.equal(js.headers['x-content-type-options'], 'nosniff');
    assert.equal(js.headers['content-length'], String(Buffer.byteLength(script)));
    const css = await get('/assets/index-abc123.css', 'text/css');
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
    const missing = await get('/assets/index-old999.js', '*/*');
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json<{ code: string }>().code, 'NOT_FOUND');
  });

  it('serves files at the top of the UI directory, such as its icon', async () => {
    const icon = await get('/favicon.svg', 'image/*');
    assert.equal(icon.statusCode, 200);
    assert.equal(icon.headers['content-type'], 'image/svg+xml');
  });

  it('answers a HEAD without a body and a repeated GET of index.html with 304', async () => {
    const head = await api.app.inject({ method: 'HEAD', url: '/assets/index-abc123.js' });
    assert.equal(head.statusCode, 200);
    assert.equal(head.body, '');
    const first = await get('/');
    const etag = String(first.headers.etag);
    assert.match(etag, /^"[0-9a-f]+-[0-9a-f]+"$/);
    const again = await get('/', 'text/html', { 'if-none-match': etag });
    assert.equal(again.statusCode, 304);
    assert.equal(again.body, '');
  });

  it('never serves a file outside the UI directory, or a dot-file, however the path is written', async () => {
    const attempts = [
      '/assets/../../secret.txt',
      '/assets/..%2f..%2fsecret.txt',
      '/assets/%2e%2e/%2e%2e/secret.txt',
      '/assets/..%5c..%5csecret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e/secret.txt',
      '/../secret.txt',
      '/.env',
      '/assets/%00index-abc123.js',
      '/assets/%E0%A4%A',
    ];
    for (const url of attempts) {
      for (const accept of ['*/*', 'text/html']) {
        const response = await get(url, accept);
        assert.ok(!response.body.includes('not for browsers') && !response.body.includes('SECRET=1'), `${url} (${accept}) leaked: ${response.body}`);
        assert.ok([200, 400, 404].includes(response.statusCode), `${url}: ${response.statusCode}`);
        if (response.statusCode === 200) assert.equal(response.body, indexHtml, `${url} may only fall back to index.html`);
      }
    }
  });

  it('lists the UI routes as public in the OpenAPI document', async () => {
    const document = (await api.call('GET', '/api/v1/openapi.json', { token: null })).json<{ paths: Record<string, { get?: { 'x-slipway-scope': string } }> }>();
    assert.equal(document.paths['/']?.get?.['x-slipway-scope'], 'public');
    assert.equal(document.paths['/assets/*']?.get?.['x-slipway-scope'], 'public');
  });
});

describe('the web UI when it is not built', () => {
  const api = useApi(sqliteTarget, { SLIPWAY_UI_DIR: path.join(tmpdir(), `slipway-ui-missing-${randomBytes(4).toString('hex')}`) });

  it('answers / with a page saying to run npm run build', async () => {
    const response = await api.app.inject({ method: 'GET', url: '/', headers: { accept: 'text/html' } });
    assert.equal(response.statusCode, 200);
    assert.match(response.body, /npm run build/);
    assertHtmlHeaders(response);
  });
});

describe('the web UI when it is turned off', () => {
  const api = useApi(sqliteTarget, { SLIPWAY_UI_ENABLED: 'false', SLIPWAY_UI_DIR: uiDir });

  it('has no UI routes: / and pages are JSON 404s', async () => {
    for (const url of ['/', '/projects/demo']) {
      const response = await api.app.inject({ method: 'GET', url, headers: { accept: 'text/html' } });
      assert.equal(response.statusCode, 404, url);
      assert.equal(response.json<{ code: string }>().code, 'NOT_FOUND');
    }
  });
});

describe('the UI directory', () => {
  it("defaults to the package's dist/web", async () => {
    const config = loadConfig({ env: {}, cwd: tmpdir(), flags: { home: '/nonexistent/slipway-home' } });
    assert.equal(config.ui.dir, undefined);
    const dir = uiDirOf(config);
    assert.equal(path.basename(dir), 'web');
    assert.equal(path.basename(path.dirname(dir)), 'dist');
    // The package root beside dist/ holds package.json.
    assert.ok((await stat(path.join(dir, '..', '..', 'package.json'))).isFile());
  });

  it('resolves a path inside the directory only', () => {
    assert.equal(fileInside('/srv/ui', '/assets/a.js'), '/srv/ui/assets/a.js');
    assert.equal(fileInside('/srv/ui', 'a%20b.js'), '/srv/ui/a b.js');
    for (const bad of ['/', '/../etc/passwd', '/a/../../b', '/%2e%2e/x', '/a%2f..%2f..%2fb', '/.git/config', '/a\\..\\b', '/%00', '/%zz']) {
      assert.equal(fileInside('/srv/ui', bad), null, bad);
    }
  });
});
