import path from 'node:path';
import type { LogKey, RenderState } from './chunk.js';

type Waiter = { ready: () => boolean; resolve: () => void; reject: (error: unknown) => void };

/**
 * What the store knows about one attempt's log while it is in memory. Written: the
 * bytes the log file holds (and the chunks they came from); durable: what the last
 * synced index record covers, which is all readers see and all acks promise.
 */
export class Attempt implements RenderState {
  readonly key: LogKey;
  readonly label: string;
  readonly logPath: string;
  readonly indexPath: string;

  loaded = false;
  loading: Promise<void> | null = null;
  baseUnixMs = 0;
  atLineStart = true;
  logFd: number | null = null;
  indexFd: number | null = null;

  writtenSeq = 0;
  writtenSize = 0;
  durableSeq = 0;
  durableSize = 0;
  /** Bytes of the index up to its last synced record (its header when it has none); 0 while there is no index. */
  indexSize = 0;
  /** Durably complete; completing: asked for, not yet synced. */
  complete = false;
  completing = false;

  /** Directories whose new entries (this attempt's files) the next commit must sync. */
  unsyncedDirs: string[] = [];
  /** A group commit holds a snapshot of this attempt. */
  inFlush = false;
  /** A write or sync failed: the bytes beyond the durable sizes cannot be trusted. */
  broken: unknown = null;
  removed = false;
  /** Operations in progress (they keep the descriptors open). */
  pins = 0;
  /** follow() loops (they keep the attempt in memory, for their wake-ups). */
  followers = 0;
  private waiters: Waiter[] = [];
  readonly watchers = new Set<() => void>();
  private lock: Promise<void> = Promise.resolve();

  constructor(dir: string, key: LogKey) {
    this.key = key;
    this.label = `the log of job ${key.jobId} attempt ${key.attempt}`;
    this.logPath = path.join(dir, String(key.jobId), `${key.attempt}.log`);
    this.indexPath = path.join(dir, String(key.jobId), `${key.attempt}.idx`);
  }

  /** Runs fn when every earlier exclusive call on this attempt has settled. */
  async exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const previous = this.lock;
    let release = () => {};
    this.lock = new Promise((resolve) => {
      release = resolve;
    });
    await previous;
    try {
      return await fn();
    } finally {
      release();
    }
  }

  /** Resolves when ready() holds after a group commit; rejects when the commit fails. */
  waitFor(ready: () => boolean): Promise<void> {
    if (ready()) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ ready, resolve, reject });
    });
  }

  /** After a group commit: settles the waiters it satisfied (all of them, when it failed). */
  settle(error: unknown): void {
    const waiting: Waiter[] = [];
    for (const waiter of this.waiters) {
      if (error !== null) waiter.reject(error);
      else if (waiter.ready()) waiter.resolve();
      else waiting.push(waiter);
    }
    this.waiters = waiting;
    for (const wake of [...this.watchers]) wake();
  }

  /** Resolves at the next change a reader may care about, or when signal aborts. */
  changed(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
      const wake = () => {
        this.watchers.delete(wake);
        signal?.removeEventListener('abort', wake);
        resolve();
      };
      this.watchers.add(wake);
      signal?.addEventListener('abort', wake, { once: true });
    });
  }

  /** The files exist with an intact index header. */
  get created(): boolean {
    return this.indexSize > 0;
  }

  get dirty(): boolean {
    return this.writtenSeq > this.durableSeq || this.writtenSize > this.durableSize || this.completing !== this.complete;
  }
}
