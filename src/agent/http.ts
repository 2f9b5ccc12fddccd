import { createReadStream, createWriteStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { ReadableStream as WebReadableStream } from 'node:stream/web';
import type { CacheStore } from '../executor/index.js';

/**
 * Files over HTTP, authorised by the attempt's token: artifact archives and caches.
 * Bodies are streamed both ways, never held in memory.
 */

/** Downloads url to dest. Returns false on 404 unless options.missingOk is false; throws on any other failure. */
export async function download(url: string, token: string, dest: string, signal: AbortSignal, options = { missingOk: true }): Promise<boolean> {
  const response = await fetch(url, { headers: { authorization: `Bearer ${token}` }, signal });
  if (response.status === 404 && options.missingOk) {
    await response.body?.cancel();
    return false;
  }
  if (!response.ok || response.body === null) throw await httpError('GET', url, response);
  await pipeline(Readable.fromWeb(response.body as WebReadableStream<Uint8Array>), createWriteStream(dest), { signal });
  return true;
}

/** Uploads file to url with PUT. Throws unless the server answers 2xx. */
export async function upload(url: string, token: string, file: string, signal: AbortSignal): Promise<void> {
  const { size } = await stat(file);
  const init = {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${token}`,
      'content-type': 'application/gzip',
      'content-length': String(size),
    },
    body: Readable.toWeb(createReadStream(file)),
    // undici needs this for a streamed request body; @types/node 20 does not know it.
    duplex: 'half',
    signal,
  };
  const response = await fetch(url, init as RequestInit);
  if (!response.ok) throw await httpError('PUT', url, response);
  await response.body?.cancel();
}

/** The project's caches on the server: GET/PUT `${cacheUrl}/${encodeURIComponent(key)}`. */
export function httpCacheStore(cacheUrl: string, token: string, signal: AbortSignal): CacheStore {
  const urlOf = (key: string) => `${cacheUrl.replace(/\/+$/, '')}/${encodeURIComponent(key)}`;
  return {
    fetch: (key, dest) => download(urlOf(key), token, dest, signal),
    store: (key, file) => upload(urlOf(key), token, file, signal),
  };
}

async function httpError(method: string, url: string, response: Response): Promise<Error> {
  const text = await response.text().catch((error: unknown) => `(body unreadable: ${String(error)})`);
  // The server answers errors as { code, message }: the message is what to show.
  const detail = (messageIn(text) ?? text).trim().slice(0, 300);
  return new Error(`${method} ${url}: HTTP ${response.status}${detail === '' ? '' : ` ${detail}`}`);
}

function messageIn(text: string): string | null {
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value === 'object' && value !== null && 'message' in value && typeof value.message === 'string') return value.message;
  } catch {
    return null; // not JSON: the text is shown as it is
  }
  return null;
}
