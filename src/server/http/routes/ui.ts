import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { ServerConfig } from '../../config/index.js';
import { defineRoute, type AnyRoute } from '../route.js';

/** This install's built web UI: `npm run build` writes it to the package's dist/web. */
function defaultUiDir(): string {
  // dist/src/server/http/routes/ → dist/web
  return fileURLToPath(new URL('../../../../web', import.meta.url));
}

export function uiDirOf(config: ServerConfig): string {
  return path.resolve(config.ui.dir ?? defaultUiDir());
}

// What Vite's output needs and nothing more: its module scripts, stylesheets, images and
// fonts from this origin, and fetch/EventSource to the API on this origin. No inline
// script or style, no other host, and no page may frame the UI (clickjacking).
const CONTENT_SECURITY_POLICY = [
  "default-src 'self'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "font-src 'self'",
  "connect-src 'self'",
  "object-src 'none'",
  "base-uri 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

const htmlHeaders = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cache-control': 'no-cache',
};

// Vite names assets by their content hash: a name never changes meaning, so browsers keep them a year.
const IMMUTABLE = 'public, max-age=31536000, immutable';

const contentTypes: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.txt': 'text/plain; charset=utf-8',
  '.webmanifest': 'application/manifest+json',
};

const missingBuildPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Slipway</title></head>
<body><h1>Slipway</h1><p>The web UI is not built. Run <code>npm run build</code> (it writes <code>dist/web</code>) and reload this page.
The API is at <code>/api/v1</code> (see <code>/api/v1/openapi.json</code>).</p></body></html>
`;

/**
 * The file a URL path names inside dir, or null when it names none there: undecodable,
 * a dot-file or `..` segment, a NUL or backslash, or anything resolving outside dir.
 */
export function fileInside(dir: string, urlPath: string): string | null {
  let decoded: string;
  try {
    decoded = decodeURIComponent(urlPath);
  } catch {
    return null;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return null;
  const segments = decoded.split('/').filter((segment) => segment !== '');
  if (segments.length === 0 || segments.some((segment) => segment.startsWith('.'))) return null;
  const file = path.resolve(dir, ...segments);
  return file.startsWith(dir + path.sep) ? file : null;
}

async function isFile(file: string): Promise<{ size: number; mtimeMs: number } | null> {
  try {
    const found = await stat(file);
    return found.isFile() ? found : null;
  } catch (error) {
    if (['ENOENT', 'ENOTDIR'].includes((error as NodeJS.ErrnoException).code ?? '')) return null;
    throw error;
  }
}

/** Streams a file to the hijacked reply, with a validator so that a reload of index.html costs a 304. */
async function sendFile(request: FastifyRequest, reply: FastifyReply, file: string, found: { size: number; mtimeMs: number }, headers: Record<string, string>): Promise<void> {
  const etag = `"${found.size.toString(16)}-${Math.floor(found.mtimeMs).toString(16)}"`;
  const type = contentTypes[path.extname(file).toLowerCase()] ?? 'application/octet-stream';
  if (request.headers['if-none-match'] === etag) {
    reply.raw.writeHead(304, { ...headers, etag });
    reply.raw.end();
    return;
  }
  reply.raw.writeHead(200, { ...headers, etag, 'content-type': type, 'content-length': String(found.size) });
  if (request.method === 'HEAD') {
    reply.raw.end();
    return;
  }
  try {
    await pipeline(createReadStream(file), reply.raw);
  } catch (error) {
    // The browser went away mid-file: nothing is left to answer.
    if ((error as NodeJS.ErrnoException).code !== 'ERR_STREAM_PREMATURE_CLOSE') throw error;
  }
}

async function sendIndex(request: FastifyRequest, reply: FastifyReply, dir: string): Promise<void> {
  const index = path.join(dir, 'index.html');
  const found = await isFile(index);
  if (found !== null) return sendFile(request, reply, index, found, htmlHeaders);
  const body = Buffer.from(missingBuildPage);
  reply.raw.writeHead(200, { ...htmlHeaders, 'content-type': 'text/html; charset=utf-8', 'content-length': String(body.length) });
  reply.raw.end(request.method === 'HEAD' ? undefined : body);
}

function pathOf(url: string): string {
  const at = url.indexOf('?');
  return at < 0 ? url : url.slice(0, at);
}

/** Paths the UI never answers: the API, health and metrics keep their JSON 404s. */
function isServerPath(urlPath: string): boolean {
  return urlPath.startsWith('/api/') || urlPath === '/api' || urlPath === '/healthz' || urlPath === '/metrics';
}

/**
 * For the not-found handler: a GET or HEAD of a non-API path is the UI's when it names a
 * file at the top of the UI directory (favicon.svg) or when a browser asks for a page (the
 * single-page app routes it: index.html). Takes over the reply and answers true then.
 */
export async function serveUiFallback(config: ServerConfig, request: FastifyRequest, reply: FastifyReply): Promise<boolean> {
  if (!config.ui.enabled || (request.method !== 'GET' && request.method !== 'HEAD')) return false;
  const urlPath = pathOf(request.url);
  if (isServerPath(urlPath)) return false;
  const dir = uiDirOf(config);
  const file = urlPath.startsWith('/assets/') ? null : fileInside(dir, urlPath);
  const found = file === null ? null : await isFile(file);
  if (file !== null && found !== null) {
    reply.hijack();
    await sendFile(request, reply, file, found, path.extname(file) === '.html' ? htmlHeaders : { 'x-content-type-options': 'nosniff', 'cache-control': 'no-cache' });
    return true;
  }
  if (!(request.headers.accept ?? '').includes('text/html')) return false;
  reply.hijack();
  await sendIndex(request, reply, dir);
  return true;
}

/** The web UI's entry page and its hashed assets: public, as the UI signs in with a token it holds itself. */
export function uiRoutes(config: ServerConfig): AnyRoute[] {
  if (!config.ui.enabled) return [];
  const dir = uiDirOf(config);
  return [
    defineRoute({
      method: 'GET',
      path: '/',
      summary: 'The web UI (index.html; a page saying to run npm run build when it is not built)',
      scope: 'public',
      stream: true,
      handler: async (_ctx, { request, reply }) => sendIndex(request, reply, dir),
    }),
    defineRoute({
      method: 'GET',
      path: '/assets/*',
      summary: "The web UI's scripts, styles and images, named by content hash (cached for a year)",
      scope: 'public',
      stream: true,
      handler: async (_ctx, { request, reply }) => {
        const file = fileInside(path.join(dir, 'assets'), pathOf(request.url).slice('/assets/'.length));
        const found = file === null ? null : await isFile(file);
        if (file === null || found === null) {
          const body = JSON.stringify({ code: 'NOT_FOUND', message: `no UI asset ${pathOf(request.url)}; reload the page (the UI may have been rebuilt)` });
          reply.raw.writeHead(404, { 'content-type': 'application/json; charset=utf-8', 'content-length': String(Buffer.byteLength(body)) });
          reply.raw.end(request.method === 'HEAD' ? undefined : body);
          return;
        }
        await sendFile(request, reply, file, found, { 'x-content-type-options': 'nosniff', 'cache-control': IMMUTABLE });
      },
    }),
  ];
}
