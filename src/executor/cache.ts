import { createHash, randomBytes } from 'node:crypto';
import { copyFile, mkdir, readFile, rename, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CacheSpec, OutcomeWhen } from '../pipeline/index.js';
import { SlipwayError, messageOf } from '../errors/index.js';
import { extractArchive, packArchive } from '../archive/index.js';
import { collectPaths, normalizePattern } from './collect.js';
import { formatBytes, plural } from './format.js';
import type { JobOutput } from './output.js';
import type { CacheStore } from './types.js';
import { expandText } from './variables.js';

/**
 * Caches: archives of paths in the project directory, kept in a CacheStore under a
 * key and restored into later jobs. Keys are computed once, before the scripts run,
 * so a script that rewrites the lockfile saves under the key it restored from.
 */

/** A store keeping each cache as `<dir>/<key>.tar.gz`; writes replace atomically. */
export function directoryCacheStore(dir: string): CacheStore {
  const root = resolve(dir);
  const fileFor = (key: string): string => {
    if (!isSafeCacheKey(key)) throw new SlipwayError('CACHE_FAILED', `'${key}' is not a valid cache key`);
    return join(root, `${key}.tar.gz`);
  };
  return {
    async fetch(key, dest) {
      try {
        await copyFile(fileFor(key), dest);
        return true;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
        throw error;
      }
    },
    async store(key, file) {
      const target = fileFor(key);
      await mkdir(root, { recursive: true });
      // Copy beside the target, then rename: a job fetching at the same time sees the
      // old archive or the new one, never half of one.
      const temporary = join(root, `.incoming-${randomBytes(6).toString('hex')}`);
      try {
        await copyFile(file, temporary);
        await rename(temporary, target);
      } finally {
        await rm(temporary, { force: true });
      }
    },
  };
}

/** Keys longer than this many bytes are shortened (with a hash) to fit in a file name. */
const MAX_KEY_BYTES = 200;

/**
 * A key that is safe as a file name and a URL segment: `/`, `\`, `%` and control
 * characters are percent-encoded (so `feature/x` and `feature_x` stay distinct),
 * `.` and `..` are encoded whole, and an over-long key keeps its start plus a hash.
 */
export function sanitizeCacheKey(raw: string): string {
  let key = Array.from(raw, (char) => (char === '%' || isUnsafeKeyChar(char) ? percentEncoded(char) : char)).join('');
  if (key === '.' || key === '..') key = key.replaceAll('.', '%2E');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) {
    const hash = createHash('sha256').update(raw).digest('hex').slice(0, 16);
    let start = '';
    for (const char of key) {
      if (Buffer.byteLength(start + char) > MAX_KEY_BYTES - hash.length - 1) break;
      start += char;
    }
    key = `${start}-${hash}`;
  }
  return key;
}

/** Whether key is what sanitizeCacheKey produces: usable as a file name as it is. */
function isSafeCacheKey(key: string): boolean {
  return (
    key !== '' &&
    key !== '.' &&
    key !== '..' &&
    !Array.from(key).some(isUnsafeKeyChar) &&
    Buffer.byteLength(key) <= MAX_KEY_BYTES
  );
}

/** A path separator or a control character. */
function isUnsafeKeyChar(char: string): boolean {
  const code = char.charCodeAt(0);
  return char === '/' || char === '\\' || code < 0x20 || code === 0x7f;
}

function percentEncoded(char: string): string {
  return `%${char.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`;
}

export type ResolvedCache = { spec: CacheSpec; key: string; paths: string[] };

/**
 * The key of a cache: its `key` with variables expanded ('default' when empty), or
 * for `key: files:`, `prefix-` and the SHA-256 of the listed files' names and
 * contents (a missing file counts as absent, so creating it changes the key).
 */
export async function resolveCache(
  spec: CacheSpec,
  projectDir: string,
  variables: Record<string, string>,
): Promise<ResolvedCache> {
  const lookup = (name: string): string | undefined => variables[name];
  const paths = spec.paths.map((path) => expandText(path, lookup));
  if (spec.files.length === 0) {
    const key = expandText(spec.key, lookup).trim();
    return { spec, key: sanitizeCacheKey(key === '' ? 'default' : key), paths };
  }
  const hash = createHash('sha256');
  for (const file of spec.files.map((name) => expandText(name, lookup))) {
    const normalized = normalizePattern(file);
    const content = normalized === null ? null : await readFile(join(projectDir, normalized)).catch(() => null);
    const digest = content === null ? 'absent' : createHash('sha256').update(content).digest('hex');
    hash.update(`${file}\0${digest}\n`);
  }
  const prefix = expandText(spec.prefix, lookup).trim();
  const digest = hash.digest('hex');
  return { spec, key: sanitizeCacheKey(prefix === '' ? digest : `${prefix}-${digest}`), paths };
}

export function isPulled(cache: ResolvedCache): boolean {
  return cache.spec.policy === 'pull' || cache.spec.policy === 'pull-push';
}

export function isPushed(cache: ResolvedCache, outcome: 'success' | 'failed'): boolean {
  return (cache.spec.policy === 'push' || cache.spec.policy === 'pull-push') && matchesOutcome(cache.spec.when, outcome);
}

export function matchesOutcome(when: OutcomeWhen, outcome: 'success' | 'failed'): boolean {
  return when === 'always' || (when === 'on_success') === (outcome === 'success');
}

/** Where a job's caches are restored into and saved from. */
export type CacheContext = { store: CacheStore; projectDir: string; tmpDir: string; output: JobOutput };

/** Restores one cache; a miss is a normal line. Throws CACHE_FAILED or ARCHIVE_INVALID. */
export async function restoreCache(cache: ResolvedCache, { store, projectDir, tmpDir, output }: CacheContext): Promise<void> {
  output.system(`Checking cache for ${cache.key}...`);
  await withArchiveFile(tmpDir, async (archive) => {
    if (!(await callStore('fetch', cache.key, () => store.fetch(cache.key, archive)))) {
      output.system(`No cache found for ${cache.key}`);
      return;
    }
    const { files } = await extractArchive(archive, projectDir);
    output.system(`Restored cache ${cache.key} (${plural(files, 'file')})`);
  });
}

/** Packs and stores one cache; nothing to pack is a warning. Throws CACHE_FAILED. */
export async function saveCache(cache: ResolvedCache, { store, projectDir, tmpDir, output }: CacheContext): Promise<void> {
  const collected = await collectPaths(projectDir, cache.paths, []);
  for (const warning of collected.warnings) output.warning(warning);
  if (collected.entries.length === 0) {
    output.warning(`nothing to cache for ${cache.key}: no file matches ${cache.paths.join(', ') || '(no paths)'}`);
    return;
  }
  await withArchiveFile(tmpDir, async (archive) => {
    const { sizeBytes } = await packArchive(projectDir, collected.entries, archive);
    await callStore('save', cache.key, () => store.store(cache.key, archive));
    output.system(`Saved cache ${cache.key} (${plural(collected.files, 'file')}, ${formatBytes(sizeBytes)})`);
  });
}

/** Runs fn with the path of a new archive file in tmpDir, and removes the file after. */
async function withArchiveFile(tmpDir: string, fn: (archive: string) => Promise<void>): Promise<void> {
  const archive = join(tmpDir, `cache-${randomBytes(4).toString('hex')}.tar.gz`);
  try {
    await fn(archive);
  } finally {
    await rm(archive, { force: true });
  }
}

/** Calls the cache store; what it throws becomes CACHE_FAILED naming the key. */
async function callStore<T>(verb: 'fetch' | 'save', key: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (error) {
    throw new SlipwayError('CACHE_FAILED', `the cache store could not ${verb} '${key}': ${messageOf(error)}`, { cause: error });
  }
}
