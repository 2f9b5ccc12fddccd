import { mkdir, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { SlipwayError, messageOf } from '../../errors/index.js';
import { Attempt } from './attempt.js';
import { renderChunk, type LogChunk, type LogKey } from './chunk.js';
import { closeFile, isMissing, openFile, readAt, truncateFile, writeAll } from './files.js';
import { GroupCommit } from './commit.js';
import { HEADER_BYTES, encodeHeader, recover } from './index-file.js';
import { bytesToRead, wholeCharacters } from './utf8.js';

export type LogStoreOptions = {
  /** Where logs live: `<dir>/<jobId>/<attempt>.log` and `.idx`. Created when missing. */
  dir: string;
  /** Descriptors kept open by idle attempts (two per attempt); busy attempts never close theirs. */
  maxOpenFiles?: number;
  /** How long a group commit waits for more appends to join it. */
  commitDelayMs?: number;
  /** Written-but-unsynced bytes that start a group commit at once. */
  commitBytes?: number;
  /** Written-but-unsynced bytes beyond which appends wait for a commit (backpressure). */
  maxPendingBytes?: number;
  /** Unix time in ms; section markers are stamped with it plus the chunk's atMs. */
  clock?: () => number;
};

export type LogRead = {
  text: string;
  /** Where the next read continues: offset plus the bytes of text (after boundary adjustment). */
  nextOffset: number;
  /** The durable size of the log in bytes. */
  size: number;
  /** The log is complete: nothing will be added after size. */
  complete: boolean;
};

export type LogStore = {
  append(key: LogKey, chunks: readonly LogChunk[]): Promise<{ ackedSeq: number }>;
  prepare(key: LogKey): Promise<void>;
  read(key: LogKey, options?: { offset?: number; limit?: number }): Promise<LogRead>;
  follow(key: LogKey, offset: number, signal?: AbortSignal): AsyncIterable<string>;
  complete(key: LogKey): Promise<void>;
  lastSeq(key: LogKey): Promise<number>;
  size(key: LogKey): Promise<number>;
  /** Resolves with the bytes the job's log and index files held. */
  remove(jobId: number): Promise<number>;
  close(): Promise<void>;
};

export const DEFAULT_READ_BYTES = 1024 * 1024;
// 256 descriptors: well under the usual soft limit of 1024, leaving room for sockets.
const DEFAULT_MAX_OPEN_FILES = 256;
// A few ms lets the appends of many agents arriving together share one sync.
const DEFAULT_COMMIT_DELAY_MS = 2;
// 8 MiB is about 30 ms of this disk's write bandwidth: a sync that size costs little
// latency and is far from the per-sync overhead.
const DEFAULT_COMMIT_BYTES = 8 * 1024 * 1024;
// Unsynced data is page cache, not heap, but bounding it bounds the time a sync takes
// and therefore the delay of every ack behind it.
const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024;
// Idle attempts kept in memory: each is a few hundred bytes; reloading one reads its index tail.
const MAX_CACHED_ATTEMPTS = 1024;

export async function openLogStore(options: LogStoreOptions): Promise<LogStore> {
  await mkdir(options.dir, { recursive: true });
  return new FileLogStore(options);
}

function checkWhole(name: string, value: number, min: number): void {
  if (!Number.isSafeInteger(value) || value < min) {
    throw new SlipwayError('USAGE', `${name} must be a whole number of at least ${min}, not ${String(value)}`);
  }
}

function checkKey(key: LogKey): void {
  checkWhole('jobId', key.jobId, 0);
  checkWhole('attempt', key.attempt, 0);
}

class FileLogStore implements LogStore {
  private readonly dir: string;
  private readonly maxOpenAttempts: number;
  private readonly maxPendingBytes: number;
  private readonly clock: () => number;
  /** In least-recently-used order: eviction walks from the front. */
  private readonly attempts = new Map<string, Attempt>();
  private readonly commits: GroupCommit;
  private openAttempts = 0;
  private closed = false;

  constructor(options: LogStoreOptions) {
    this.dir = options.dir;
    this.maxOpenAttempts = Math.max(1, Math.floor((options.maxOpenFiles ?? DEFAULT_MAX_OPEN_FILES) / 2));
    this.commits = new GroupCommit({
      delayMs: options.commitDelayMs ?? DEFAULT_COMMIT_DELAY_MS,
      commitBytes: options.commitBytes ?? DEFAULT_COMMIT_BYTES,
    });
    this.maxPendingBytes = options.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES;
    this.clock = options.clock ?? Date.now;
  }

  append(key: LogKey, chunks: readonly LogChunk[]): Promise<{ ackedSeq: number }> {
    return this.using(key, async (attempt) => {
      while (this.commits.pendingBytes >= this.maxPendingBytes && this.commits.busy) await this.commits.next();
      const { target, gap } = await attempt.exclusive(() => this.write(attempt, chunks));
      await attempt.waitFor(() => attempt.durableSeq >= target);
      if (gap !== null) {
        throw new SlipwayError(
          'CONFLICT',
          `${attempt.label}: expected chunk ${gap.expected}, got ${gap.got} (chunks ${gap.expected} to ${gap.got - 1} are missing); stored up to ${attempt.durableSeq}`,
          { details: { expectedSeq: gap.expected, gotSeq: gap.got, ackedSeq: attempt.durableSeq } },
        );
      }
      return { ackedSeq: attempt.durableSeq };
    });
  }

  prepare(key: LogKey): Promise<void> {
    return this.using(key, (attempt) =>
      attempt.exclusive(async () => {
        await this.ready(attempt);
        // Their directories are synced by the first commit, alongside the first data.
        if (!attempt.created && !attempt.completing) await this.openForWriting(attempt, 0);
      }),
    );
  }

  async read(key: LogKey, options: { offset?: number; limit?: number } = {}): Promise<LogRead> {
    const offset = options.offset ?? 0;
    const limit = options.limit ?? DEFAULT_READ_BYTES;
    checkWhole('offset', offset, 0);
    checkWhole('limit', limit, 1);
    return this.using(key, async (attempt) => {
      await this.load(attempt);
      const { durableSize: size, complete } = attempt;
      const from = Math.min(offset, size);
      if (from >= size) return { text: '', nextOffset: from, size, complete };
      const bytes = await this.readBytes(attempt, from, Math.min(size - from, bytesToRead(limit)));
      const { start, end } = wholeCharacters(bytes, limit, from + bytes.length >= size);
      return { text: bytes.toString('utf8', start, end), nextOffset: from + end, size, complete };
    });
  }

  follow(key: LogKey, offset: number, signal?: AbortSignal): AsyncIterable<string> {
    checkKey(key);
    checkWhole('offset', offset, 0);
    return this.pieces(key, offset, signal);
  }

  complete(key: LogKey): Promise<void> {
    return this.using(key, async (attempt) => {
      await attempt.exclusive(async () => {
        await this.ready(attempt);
        if (attempt.completing) return;
        await this.openForWriting(attempt, 0);
        attempt.completing = true;
        this.commits.written(attempt, 0);
      });
      await attempt.waitFor(() => attempt.complete);
    });
  }

  lastSeq(key: LogKey): Promise<number> {
    return this.durable(key, (attempt) => attempt.durableSeq);
  }

  size(key: LogKey): Promise<number> {
    return this.durable(key, (attempt) => attempt.durableSize);
  }

  async remove(jobId: number): Promise<number> {
    checkWhole('jobId', jobId, 0);
    for (const attempt of [...this.attempts.values()].filter((a) => a.key.jobId === jobId)) {
      attempt.pins += 1;
      try {
        await attempt.exclusive(async () => {
          // Appends already written finish their commit; their callers get their ack.
          while (this.commits.holds(attempt)) await this.commits.next();
          attempt.removed = true;
          this.closeFiles(attempt);
          if (this.attempts.get(idOf(attempt.key)) === attempt) this.attempts.delete(idOf(attempt.key));
          attempt.settle(null);
        });
      } finally {
        attempt.pins -= 1;
      }
    }
    const jobDir = path.join(this.dir, String(jobId));
    const bytes = await sizeOfFiles(jobDir);
    await rm(jobDir, { recursive: true, force: true });
    return bytes;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.commits.drain();
    for (const attempt of this.attempts.values()) {
      this.closeFiles(attempt);
      attempt.settle(null);
    }
    this.attempts.clear();
  }

  /** The attempt for key, most recently used now, pinned until release(). */
  private use(key: LogKey): Attempt {
    checkKey(key);
    if (this.closed) throw new SlipwayError('INTERNAL', 'the log store is closed');
    const id = idOf(key);
    const attempt = this.attempts.get(id) ?? new Attempt(this.dir, { jobId: key.jobId, attempt: key.attempt });
    this.attempts.delete(id);
    this.attempts.set(id, attempt);
    attempt.pins += 1;
    return attempt;
  }

  private release(attempt: Attempt): void {
    attempt.pins -= 1;
    this.trim();
  }

  /** Runs fn on the attempt for key, pinned while it runs. */
  private async using<T>(key: LogKey, fn: (attempt: Attempt) => Promise<T>): Promise<T> {
    const attempt = this.use(key);
    try {
      return await fn(attempt);
    } finally {
      this.release(attempt);
    }
  }

  /** A figure of what is durable of the attempt for key. */
  private durable<T>(key: LogKey, pick: (attempt: Attempt) => T): Promise<T> {
    return this.using(key, async (attempt) => {
      await this.load(attempt);
      return pick(attempt);
    });
  }

  /** Under the attempt's lock: stores the chunks that come next, up to a gap. */
  private async write(attempt: Attempt, chunks: readonly LogChunk[]) {
    await this.ready(attempt);
    let expected = attempt.writtenSeq + 1;
    const accepted: LogChunk[] = [];
    let gap: { expected: number; got: number } | null = null;
    for (const chunk of chunks) {
      checkWhole(`${attempt.label}: a chunk's seq`, chunk.seq, 1);
      if (chunk.seq < expected) continue;
      if (chunk.seq > expected) {
        gap = { expected, got: chunk.seq };
        break;
      }
      accepted.push(chunk);
      expected += 1;
    }
    const first = accepted[0];
    if (first === undefined) return { target: attempt.writtenSeq, gap };
    if (attempt.completing) {
      throw new SlipwayError('CONFLICT', `${attempt.label} is complete: chunk ${first.seq} comes after its end`, {
        details: { ackedSeq: attempt.durableSeq },
      });
    }
    const fd = attempt.logFd ?? (await this.openForWriting(attempt, first.atMs));
    const buffers: Buffer[] = [];
    for (const chunk of accepted) {
      const text = renderChunk(chunk, attempt);
      if (text.length > 0) buffers.push(typeof text === 'string' ? Buffer.from(text, 'utf8') : text);
    }
    let bytes: number;
    try {
      bytes = await writeAll(fd, buffers, attempt.writtenSize);
    } catch (error) {
      attempt.broken = error;
      throw new SlipwayError('INTERNAL', `could not write ${attempt.label}: ${messageOf(error)}`, { cause: error });
    }
    attempt.writtenSize += bytes;
    attempt.writtenSeq = expected - 1;
    this.commits.written(attempt, bytes);
    return { target: attempt.writtenSeq, gap };
  }

  /** Under the attempt's lock: loaded, and rolled back to what is durable after a failure. */
  private async ready(attempt: Attempt): Promise<void> {
    if (attempt.removed) throw new SlipwayError('CONFLICT', `${attempt.label} was removed`);
    if (this.closed) throw new SlipwayError('INTERNAL', 'the log store is closed');
    await this.load(attempt);
    if (attempt.broken === null) return;
    while (attempt.inFlush) await this.commits.next();
    try {
      if (attempt.indexFd !== null) await truncateFile(attempt.indexFd, attempt.indexSize);
      if (attempt.logFd !== null) await truncateFile(attempt.logFd, attempt.durableSize);
    } catch (error) {
      throw new SlipwayError('INTERNAL', `could not roll back ${attempt.label} after ${messageOf(attempt.broken)}: ${messageOf(error)}`, { cause: error });
    }
    const failure = new SlipwayError('INTERNAL', `${attempt.label} was rolled back after ${messageOf(attempt.broken)}`, { cause: attempt.broken });
    this.commits.forget(attempt);
    attempt.settle(failure);
    this.closeFiles(attempt);
    attempt.broken = null;
    attempt.loaded = false;
    await this.load(attempt);
  }

  private load(attempt: Attempt): Promise<void> {
    if (attempt.loaded) return Promise.resolve();
    attempt.loading ??= (async () => {
      try {
        const { record, indexSize, baseUnixMs, atLineStart } = await recover(attempt.logPath, attempt.indexPath);
        attempt.baseUnixMs = baseUnixMs;
        attempt.atLineStart = atLineStart;
        attempt.writtenSeq = attempt.durableSeq = record.seq;
        attempt.writtenSize = attempt.durableSize = record.end;
        attempt.indexSize = indexSize;
        attempt.complete = attempt.completing = record.complete;
        attempt.loaded = true;
      } catch (error) {
        throw new SlipwayError('INTERNAL', `could not open ${attempt.label}: ${messageOf(error)}`, { cause: error });
      } finally {
        attempt.loading = null;
      }
    })();
    return attempt.loading;
  }

  /** Under the attempt's lock: the files exist and their descriptors are open; returns the log's. */
  private async openForWriting(attempt: Attempt, firstAtMs: number): Promise<number> {
    if (attempt.logFd !== null) return attempt.logFd;
    const opened: number[] = [];
    const open = async (file: string, mode: 'update' | 'write' | 'create') => {
      const fd = await openFile(file, mode);
      opened.push(fd);
      return fd;
    };
    let indexFd: number;
    let logFd: number;
    try {
      if (attempt.created) {
        indexFd = await open(attempt.indexPath, 'update');
        logFd = await open(attempt.logPath, 'write');
      } else {
        const jobDir = path.dirname(attempt.logPath);
        const madeJobDir = (await mkdir(jobDir, { recursive: true })) !== undefined;
        indexFd = await open(attempt.indexPath, 'create');
        logFd = await open(attempt.logPath, 'create');
        const baseUnixMs = this.clock() - firstAtMs;
        await writeAll(indexFd, [encodeHeader(baseUnixMs)], 0);
        // Each commit syncs the files' data; their names need their directories synced,
        // which the next commit does alongside (one sync's latency before the first ack, not two).
        attempt.unsyncedDirs.push(jobDir, ...(madeJobDir ? [this.dir] : []));
        attempt.baseUnixMs = baseUnixMs;
        attempt.indexSize = HEADER_BYTES;
      }
    } catch (error) {
      for (const fd of opened) closeFile(fd);
      throw new SlipwayError('INTERNAL', `could not open ${attempt.label} for writing: ${messageOf(error)}`, { cause: error });
    }
    attempt.indexFd = indexFd;
    attempt.logFd = logFd;
    this.openAttempts += 1;
    this.trim();
    return logFd;
  }

  private closeFiles(attempt: Attempt): void {
    if (attempt.logFd === null || attempt.indexFd === null) return;
    closeFile(attempt.logFd);
    closeFile(attempt.indexFd);
    attempt.logFd = null;
    attempt.indexFd = null;
    this.openAttempts -= 1;
  }

  /** Closes the descriptors of idle attempts, least recently used first, and forgets idle ones. */
  private trim(): void {
    for (const [id, attempt] of this.attempts) {
      if (this.openAttempts <= this.maxOpenAttempts && this.attempts.size <= MAX_CACHED_ATTEMPTS) return;
      const idle = attempt.pins === 0 && !this.commits.holds(attempt) && !attempt.dirty && attempt.broken === null && attempt.loading === null;
      if (!idle) continue;
      this.closeFiles(attempt);
      if (attempt.followers === 0) this.attempts.delete(id);
    }
  }

  /** Bytes of the durable log, through a descriptor of its own (eviction may close the writer's). */
  private async readBytes(attempt: Attempt, position: number, length: number): Promise<Buffer> {
    let fd: number;
    try {
      fd = await openFile(attempt.logPath, 'read');
    } catch (error) {
      if (isMissing(error)) return Buffer.alloc(0);
      throw new SlipwayError('INTERNAL', `could not read ${attempt.label}: ${messageOf(error)}`, { cause: error });
    }
    try {
      return await readAt(fd, length, position);
    } finally {
      closeFile(fd);
    }
  }

  private async *pieces(key: LogKey, offset: number, signal: AbortSignal | undefined): AsyncGenerator<string> {
    const attempt = this.use(key);
    attempt.followers += 1;
    attempt.pins -= 1;
    try {
      let at = offset;
      while (signal?.aborted !== true && !attempt.removed && !this.closed) {
        const piece = await this.read(key, { offset: at });
        if (piece.nextOffset > at) {
          at = piece.nextOffset;
          if (piece.text !== '') yield piece.text;
          continue;
        }
        if (piece.complete) return;
        // Checked after the read, with no await in between: a commit cannot slip past.
        if (attempt.durableSize > at) continue;
        await attempt.changed(signal);
      }
    } finally {
      attempt.followers -= 1;
      this.trim();
    }
  }
}

/** The bytes of the files directly in dir; 0 when it does not exist. */
async function sizeOfFiles(dir: string): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (isMissing(error)) return 0;
    throw new SlipwayError('INTERNAL', `could not list ${dir}: ${messageOf(error)}`, { cause: error });
  }
  let total = 0;
  for (const name of names) {
    try {
      total += (await stat(path.join(dir, name))).size;
    } catch (error) {
      if (!isMissing(error)) throw new SlipwayError('INTERNAL', `could not read ${path.join(dir, name)}: ${messageOf(error)}`, { cause: error });
    }
  }
  return total;
}

function idOf(key: LogKey): string {
  return `${key.jobId}/${key.attempt}`;
}
