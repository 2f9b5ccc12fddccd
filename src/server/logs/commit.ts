import { SlipwayError, messageOf } from '../../errors/index.js';
import type { Attempt } from './attempt.js';
import { syncData, syncDirectory, writeAll } from './files.js';
import { RECORD_BYTES, encodeRecord } from './index-file.js';

/**
 * Group commit: appends write their bytes to the log files at once (write-through, so
 * memory holds no log), mark their attempt dirty and wait; one commit at a time then
 * writes an index record per dirty attempt and syncs every dirty file (and the directories
 * of files created since) in parallel. All
 * the appends that arrived while the previous commit ran share the next one, so the
 * number of commits does not grow with the number of appends.
 *
 * It keeps the invariant pendingBytes = Σ (writtenSize − durableSize) over attempts: the
 * store adds what it writes (written) and removes what it rolls back (forget).
 */
export class GroupCommit {
  /** Bytes written to logs and not yet covered by a synced index record. */
  pendingBytes = 0;
  private readonly delayMs: number;
  private readonly commitBytes: number;
  private readonly dirty = new Set<Attempt>();
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private afterCommit: Array<() => void> = [];

  constructor(options: { delayMs: number; commitBytes: number }) {
    this.delayMs = options.delayMs;
    this.commitBytes = options.commitBytes;
  }

  /** The attempt has bytes (or a completion) to commit. */
  written(attempt: Attempt, bytes: number): void {
    this.pendingBytes += bytes;
    this.dirty.add(attempt);
    this.schedule();
  }

  /** Rollback: the attempt's unsynced bytes are gone. */
  forget(attempt: Attempt): void {
    this.pendingBytes -= attempt.writtenSize - attempt.durableSize;
    this.dirty.delete(attempt);
  }

  /** The attempt waits for a commit, or is in the running one. */
  holds(attempt: Attempt): boolean {
    return this.dirty.has(attempt) || attempt.inFlush;
  }

  get busy(): boolean {
    return this.running !== null || this.dirty.size > 0;
  }

  /** Resolves after the next commit (at once when nothing waits to be committed). */
  next(): Promise<void> {
    if (!this.busy) return Promise.resolve();
    return new Promise((resolve) => {
      this.afterCommit.push(resolve);
      this.schedule();
    });
  }

  /** Commits everything now, without the delay; for closing. */
  async drain(): Promise<void> {
    while (this.busy) {
      this.start();
      await this.running;
    }
  }

  private schedule(): void {
    if (this.running !== null || this.dirty.size === 0) return;
    if (this.pendingBytes >= this.commitBytes || this.delayMs <= 0) this.start();
    else this.timer ??= setTimeout(() => this.start(), this.delayMs);
  }

  private start(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.running !== null || this.dirty.size === 0) return;
    this.running = this.commit().finally(() => {
      this.running = null;
      const woken = this.afterCommit;
      this.afterCommit = [];
      for (const wake of woken) wake();
      this.schedule();
    });
  }

  private async commit(): Promise<void> {
    const batch = [...this.dirty].map((attempt) => ({ attempt, seq: attempt.writtenSeq, end: attempt.writtenSize, complete: attempt.completing }));
    this.dirty.clear();
    for (const { attempt } of batch) attempt.inFlush = true;
    await Promise.all(batch.map((entry) => this.commitOne(entry)));
  }

  /** Never rejects: a failure rejects the attempt's waiters and marks it broken. */
  private async commitOne({ attempt, seq, end, complete }: { attempt: Attempt; seq: number; end: number; complete: boolean }): Promise<void> {
    let failure: unknown = null;
    const dirs = attempt.unsyncedDirs.splice(0);
    try {
      const { logFd, indexFd } = attempt;
      if (attempt.broken !== null) throw attempt.broken;
      if (logFd === null || indexFd === null) throw new Error('its files are not open');
      // The log bytes up to end were written before this snapshot was taken. Only this
      // commit writes to the attempt's index until it settles; a failure leaves the
      // record beyond indexSize, where the next writer's rollback truncates it.
      await writeAll(indexFd, [encodeRecord({ seq, end, complete })], attempt.indexSize);
      await Promise.all([syncData(logFd), syncData(indexFd), ...dirs.map((dir) => syncDirectory(dir))]);
      this.pendingBytes -= end - attempt.durableSize;
      attempt.durableSeq = seq;
      attempt.durableSize = end;
      attempt.indexSize += RECORD_BYTES;
      attempt.complete = complete;
    } catch (error) {
      failure = new SlipwayError('INTERNAL', `could not store ${attempt.label} durably: ${messageOf(error)}`, { cause: error });
      attempt.unsyncedDirs.push(...dirs);
      attempt.broken ??= error;
      // Forget what was written since the last durable record; the next writer truncates it.
      this.forget(attempt);
      attempt.writtenSize = attempt.durableSize;
      attempt.writtenSeq = attempt.durableSeq;
      attempt.completing = attempt.complete;
    } finally {
      attempt.inFlush = false;
    }
    attempt.settle(failure);
  }
}
