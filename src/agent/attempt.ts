import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { messageOf } from '../errors/index.js';
import { runJob, type JobResult, type OutputChunk } from '../executor/index.js';
import { encodeFrameHeader, type Assignment, type AttemptEvent } from '../protocol/index.js';
import { download, httpCacheStore, upload } from './http.js';
import { Outbox } from './outbox.js';
import { chooseSource, type SourceMode } from './source.js';
import type { AgentLogger } from './types.js';

/** What an attempt needs from the agent around it. */
export type AttemptContext = {
  workDir: string;
  log: AgentLogger;
  killGraceMs: number | undefined;
  source: SourceMode;
  baseEnv: Readonly<Record<string, string | undefined>>;
  /** Called after each event is in the outbox: time to send. */
  onEvent: () => void;
};

type EventBody = AttemptEvent extends infer E ? (E extends AttemptEvent ? Omit<E, 'seq'> : never) : never;

/**
 * One job attempt on this agent: runs it with the execution core and turns everything it
 * says into numbered events in its outbox: `started` (1), the output chunks, and
 * `finished` last. The attempt ends (`settled`) once `finished` is in the outbox, its
 * processes are gone and its temporary files removed; the agent frees its slot when the
 * server has also acknowledged `finished`, or at once when it was dropped.
 */
export class Attempt {
  readonly id: number;
  readonly token: string;
  readonly outbox: Outbox;
  /** false for an assignment the agent refused: it does not hold a slot. */
  readonly holdsSlot: boolean;
  settled = false;
  /** Resolves when the attempt is settled; never rejects. */
  finished: Promise<void> = Promise.resolve();
  /** The server rejected the attempt (or it moved on): nothing more is sent. */
  dropped = false;
  /** Why the attempt was abandoned (abandon()): its result is withheld. */
  private abandoned: string | null = null;
  private readonly assignment: Assignment;
  private readonly context: AttemptContext;
  private readonly controller = new AbortController();
  private readonly startedAt = performance.now();
  private seq = 0;
  private header: Buffer | null = null;

  constructor(assignment: Assignment, context: AttemptContext, holdsSlot: boolean) {
    this.id = assignment.attemptId;
    this.token = assignment.token;
    this.assignment = assignment;
    this.context = context;
    this.holdsSlot = holdsSlot;
    this.outbox = new Outbox(path.join(context.workDir, 'outbox', `${assignment.attemptId}.events`));
  }

  /** The header of this attempt's events frames (its id and token), made once. */
  get frameHeader(): Buffer {
    return (this.header ??= encodeFrameHeader(this.id, this.token));
  }

  /** Runs the job in the background; see finished. */
  start(): void {
    this.finished = this.run();
  }

  private async run(): Promise<void> {
    try {
      this.emit({ kind: 'started', atMs: this.elapsedMs() });
      this.end(await this.execute());
    } catch (error) {
      this.context.log.error('attempt failed outside the job', { attemptId: this.id, error: messageOf(error) });
      this.end(systemFailure(`the agent failed: ${messageOf(error)}`));
    } finally {
      this.settled = true;
    }
  }

  private end(result: JobResult): void {
    if (this.abandoned === null) {
      this.emit({ kind: 'finished', atMs: this.elapsedMs(), result });
      return;
    }
    this.emit({ kind: 'data', stream: 'system', data: `ERROR: ${this.abandoned}\n`, atMs: this.elapsedMs() });
  }

  /** Answers an assignment the agent cannot take with a system failure, so the server can place it elsewhere. */
  refuse(reason: string): void {
    this.emit({ kind: 'started', atMs: 0 });
    this.emit({ kind: 'data', stream: 'system', data: `${reason}\n`, atMs: 0 });
    this.emit({ kind: 'finished', atMs: 0, result: systemFailure(reason) });
    this.settled = true;
  }

  /** Stops the job; its remaining events, `finished` (canceled) included, are still sent. */
  cancel(reason: string): void {
    if (this.controller.signal.aborted) return;
    this.context.log.info('attempt canceled', { attemptId: this.id, reason });
    this.controller.abort();
  }

  /**
   * Stops the job and withholds its result: its output so far is still sent, `finished`
   * never is, so the server counts the attempt lost — as when an agent's container is
   * removed. For an agent that must stop now: the job did not fail, and was not canceled
   * by anyone who asked for it.
   */
  abandon(reason: string): void {
    if (this.abandoned !== null || this.settled) return;
    this.context.log.warn('attempt abandoned', { attemptId: this.id, reason });
    this.abandoned = reason;
    this.controller.abort();
  }

  /** Stops the job and forgets its events: the server will not take them. */
  drop(reason: string): void {
    this.context.log.warn('attempt dropped', { attemptId: this.id, reason });
    this.dropped = true;
    this.controller.abort();
    this.outbox.remove();
  }

  private async execute(): Promise<JobResult> {
    const { assignment } = this;
    const tmp = path.join(this.context.workDir, 'tmp', String(this.id));
    await mkdir(tmp, { recursive: true });
    try {
      const artifactsIn: Array<{ job: string; archive: string }> = [];
      for (const [index, artifact] of assignment.artifacts.entries()) {
        const archive = path.join(tmp, `in-${index}.tar.gz`);
        try {
          await download(artifact.url, this.token, archive, this.controller.signal, { missingOk: false });
        } catch (error) {
          return this.failBeforeRun(`could not download the artifacts of "${artifact.job}": ${messageOf(error)}`);
        }
        artifactsIn.push({ job: artifact.job, archive });
      }
      const { repository, commit, subdirectory } = assignment.source;
      const chosen = await chooseSource(this.context.source, assignment.source, this.token, this.controller.signal);
      if (!chosen.ok) return this.failBeforeRun(`cannot get the source: ${chosen.problem}`);
      const result = await runJob({
        job: assignment.job,
        variables: assignment.variables,
        source: { repository, commit, subdirectory, overlayFrom: null, archive: chosen.archive },
        workRoot: path.join(this.context.workDir, 'builds'),
        gitCacheDir: path.join(this.context.workDir, 'git'),
        baseEnv: this.context.baseEnv,
        artifactsIn,
        artifactsOut: path.join(tmp, 'out.tar.gz'),
        cacheStore: httpCacheStore(assignment.cacheUrl, this.token, this.controller.signal),
        maskedValues: assignment.masked,
        onOutput: (chunk) => this.output(chunk),
        signal: this.controller.signal,
        ...(this.context.killGraceMs === undefined ? {} : { killGraceMs: this.context.killGraceMs }),
      });
      return await this.uploadArtifacts(result);
    } finally {
      await rm(tmp, { recursive: true, force: true });
    }
  }

  private async uploadArtifacts(result: JobResult): Promise<JobResult> {
    if (result.artifacts === null || this.dropped || this.abandoned !== null) return result;
    try {
      await upload(this.assignment.artifactsUploadUrl, this.token, result.artifacts.archive, this.controller.signal);
      return result;
    } catch (error) {
      const message = `could not upload the artifacts: ${messageOf(error)}`;
      this.emit({ kind: 'data', stream: 'system', data: `ERROR: ${message}\n`, atMs: this.elapsedMs() });
      if (result.status === 'canceled') return result;
      return { ...result, status: 'failed', failure: { kind: 'system_failure', message } };
    }
  }

  private failBeforeRun(message: string): JobResult {
    this.emit({ kind: 'data', stream: 'system', data: `ERROR: ${message}\n`, atMs: this.elapsedMs() });
    return systemFailure(message, this.elapsedMs());
  }

  /** runJob's chunks, renumbered into the attempt's one sequence (after `started`). */
  private output(chunk: OutputChunk): void {
    const { seq: _seq, ...body } = chunk;
    this.emit(body);
  }

  private emit(body: EventBody): void {
    if (this.dropped) return;
    this.seq += 1;
    try {
      this.outbox.append({ ...body, seq: this.seq } as AttemptEvent);
    } catch (error) {
      // Without its outbox the attempt cannot be delivered: stop the job rather than run
      // it with nobody hearing about it. The server finds it missing from `hello.running`.
      this.context.log.error('outbox write failed', { attemptId: this.id, error: messageOf(error) });
      this.drop('its outbox could not be written');
      return;
    }
    this.context.onEvent();
  }

  private elapsedMs(): number {
    return Math.round(performance.now() - this.startedAt);
  }
}

function systemFailure(message: string, durationMs = 0): JobResult {
  return { status: 'failed', failure: { kind: 'system_failure', message }, exitCode: null, durationMs, artifacts: null };
}
