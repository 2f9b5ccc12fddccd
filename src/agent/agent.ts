import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import WebSocket from 'ws';
import { SlipwayError, messageOf } from '../errors/index.js';
import {
  CloseCode,
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  parseServerMessage,
  type AgentMessage,
  type Assignment,
  type ServerMessage,
} from '../protocol/index.js';
import { Attempt } from './attempt.js';
import { Sleeper, backoffMs } from './backoff.js';
import type { AgentOptions } from './types.js';
import { agentVersion } from './version.js';

// One events frame carries at most this much: big enough that a chatty job needs few
// frames, small enough that a frame never delays heartbeats or other attempts for long.
const MAX_BATCH_BYTES = 256 * 1024;
// While a batch awaits its ack, events wait this long (or until the ack) to share a frame:
// a chatty job makes a chunk per pipe read, and one frame (and one server-side sync) per
// chunk would cost more than 5 ms of latency. An idle outbox sends at once.
const FLUSH_DELAY_MS = 5;
// How long an attempt's `started` event waits for the job's first output (eventAdded).
const STARTED_WAIT_MS = 20;
// Stop handing frames to the socket above this much unsent data, and go on below half of it.
const HIGH_WATER_BYTES = 1024 * 1024;
// Event bytes in flight (sent, not acknowledged) across attempts: at a few hundred MB/s
// and acks that come after a group commit (a few ms to tens of ms), 8 MiB keeps the
// pipe full while bounding what the server holds for this agent (see MAX_PENDING_BYTES).
const MAX_UNACKED_BYTES = 8 * 1024 * 1024;
// A connection that lasted this long after `welcome` resets the backoff.
const STABLE_MS = 5000;
// Before `welcome` says the heartbeat interval, the liveness check uses this one.
const DEFAULT_HEARTBEAT_MS = 10_000;
// A server silent for this many heartbeat intervals (no message, no pong) is gone.
const SILENT_INTERVALS = 3;
const DEFAULT_RECONNECT = { baseMs: 250, capMs: 10_000 };

type SessionEnd = { stable: boolean };

/**
 * The agent: one WebSocket to the server at a time, reconnecting with backoff; attempts
 * that run whatever the connection does, each with an outbox of events. See
 * docs/agent.md for the behaviour and docs/protocol.md for the messages.
 */
export class Agent {
  private readonly options: AgentOptions;
  private readonly attempts = new Map<number, Attempt>();
  private readonly sleeper = new Sleeper();
  private ws: WebSocket | null = null;
  private welcomed = false;
  private heartbeat: NodeJS.Timeout | null = null;
  private lastHeardAt = 0;
  private flushScheduled = false;
  /** The wait of a scheduled flush while batches are in flight; an ack that empties them cuts it short. */
  private flushTimer: NodeJS.Timeout | null = null;
  private blocked = false;
  /** The send window is full: the next ack resumes sending. */
  private windowFull = false;
  /** Why the agent takes no new job, once it does not. */
  private draining: string | null = null;
  /** Stopping now (options.stopSignal): jobs are abandoned, and the agent stops once they have ended. */
  private stoppingNow = false;
  private stopped = false;
  private accepted = 0;
  private fatal: SlipwayError | null = null;

  constructor(options: AgentOptions) {
    this.options = options;
  }

  async run(): Promise<void> {
    const { workDir, signal, stopSignal, log } = this.options;
    // Outboxes of an earlier process belong to jobs that died with it.
    await rm(path.join(workDir, 'outbox'), { recursive: true, force: true });
    await rm(path.join(workDir, 'tmp'), { recursive: true, force: true });
    await mkdir(path.join(workDir, 'outbox'), { recursive: true });
    const onAbort = () => this.drain('the agent is stopping');
    signal.addEventListener('abort', onAbort, { once: true });
    if (signal.aborted) onAbort();
    const onStop = () => this.stopNow();
    stopSignal?.addEventListener('abort', onStop, { once: true });
    if (stopSignal?.aborted === true) onStop();
    let failures = 0;
    try {
      while (!this.stopped) {
        const session = await this.session();
        if (this.fatal !== null) {
          await this.abandonAll();
          throw this.fatal;
        }
        if (this.stopped) break;
        failures = session.stable ? 0 : failures + 1;
        const delayMs = backoffMs(failures, this.options.reconnect ?? DEFAULT_RECONNECT);
        log.info('reconnecting', { delayMs, failures });
        await this.sleeper.sleep(delayMs);
      }
      log.info('agent stopped', { reason: this.draining });
    } finally {
      signal.removeEventListener('abort', onAbort);
      stopSignal?.removeEventListener('abort', onStop);
    }
  }

  /** One connection, from connecting to its close. */
  private session(): Promise<SessionEnd> {
    const { serverUrl, token, log } = this.options;
    const url = `${serverUrl.replace(/^http/, 'ws').replace(/\/+$/, '')}/api/v1/agents/connect`;
    return new Promise((resolve) => {
      let welcomedAt: number | null = null;
      let lastError: string | null = null;
      const ws = new WebSocket(url, SUBPROTOCOL, { headers: { authorization: `Bearer ${token}` }, handshakeTimeout: 10_000 });
      this.ws = ws;
      ws.on('open', () => {
        log.info('connected', { url });
        this.heard();
        this.watch(DEFAULT_HEARTBEAT_MS);
        this.send({
          type: 'hello',
          protocol: PROTOCOL_VERSION,
          name: this.options.name,
          version: agentVersion(),
          labels: this.options.labels,
          capacity: this.options.capacity,
          engine: this.options.engine ?? null,
          running: [...this.attempts.values()]
            .filter((attempt) => !attempt.dropped)
            .map((attempt) => ({ attemptId: attempt.id, lastSeq: attempt.outbox.lastSeq })),
        });
      });
      ws.on('message', (data, isBinary) => {
        this.heard();
        if (isBinary) return this.protocolError(ws, 'a binary frame');
        const parsed = parseServerMessage(rawText(data));
        if (!parsed.ok) return this.protocolError(ws, parsed.error);
        if (parsed.message.type === 'welcome') welcomedAt = Date.now();
        this.handle(parsed.message);
      });
      ws.on('pong', () => this.heard());
      ws.on('error', (error) => {
        lastError = error.message;
        const status = /Unexpected server response: (\d+)/.exec(error.message)?.[1];
        if (status === '401' || status === '403') this.fail(unauthorized(`HTTP ${status}`));
      });
      ws.on('close', (code, reasonBuffer) => {
        const reason = reasonBuffer.toString();
        if (this.ws === ws) {
          this.ws = null;
          this.welcomed = false;
          this.blocked = false;
          this.windowFull = false;
          this.unwatch();
        }
        if (code === CloseCode.UNAUTHORIZED) this.fail(unauthorized(reason));
        else if (code === CloseCode.UNSUPPORTED_PROTOCOL) {
          this.fail(new SlipwayError('CONFIG_INVALID', `the server does not speak agent protocol ${PROTOCOL_VERSION} (${reason || 'no reason given'}): run an agent of the server's version`));
        } else if (code === CloseCode.REPLACED) {
          this.fail(new SlipwayError('CONFIG_INVALID', `another agent connected with the name "${this.options.name}": give each agent its own --name`));
        } else if (!this.stopped) {
          log.warn('disconnected', { code, reason, error: lastError });
        }
        // Stopping now, the agent does not wait for a new connection to deliver results.
        if (this.stoppingNow) this.stopIfIdle();
        resolve({ stable: welcomedAt !== null && Date.now() - welcomedAt >= STABLE_MS });
      });
    });
  }

  private handle(message: ServerMessage): void {
    switch (message.type) {
      case 'welcome': {
        this.welcomed = true;
        this.options.log.info('welcomed', { agentId: message.agentId });
        this.watch(message.heartbeatMs);
        const resume = new Map(message.resume.map((entry) => [entry.attemptId, entry.ackedSeq]));
        const cancel = new Set(message.cancel);
        for (const attempt of this.attempts.values()) {
          // The server moved on from these: what they would still send has no taker.
          if (cancel.has(attempt.id)) attempt.drop('the server moved on from it');
          else attempt.outbox.rewind(resume.get(attempt.id) ?? attempt.outbox.ackedSeq);
        }
        for (const attempt of [...this.attempts.values()]) this.release(attempt);
        this.sendReady();
        this.scheduleFlush();
        return;
      }
      case 'assign':
        return this.assign(message);
      case 'ack': {
        const attempt = this.attempts.get(message.attemptId);
        if (attempt === undefined) return;
        attempt.outbox.ack(message.seq);
        this.release(attempt);
        if (this.windowFull) return this.reopenWindow();
        return this.flushEarly();
      }
      case 'cancel':
        return this.attempts.get(message.attemptId)?.cancel(message.reason);
      case 'reject': {
        const attempt = this.attempts.get(message.attemptId);
        if (attempt === undefined) return;
        attempt.drop(`${message.code}: ${message.message}`);
        return this.release(attempt);
      }
      case 'shutdown':
        return this.drain(`the server is shutting down: ${message.reason}`);
    }
  }

  private assign(assignment: Assignment): void {
    const { log, workDir, killGraceMs, source = 'auto', baseEnv } = this.options;
    if (this.attempts.has(assignment.attemptId)) {
      log.warn('assignment repeated', { attemptId: assignment.attemptId });
      return;
    }
    const context = { workDir, log, killGraceMs, source, baseEnv, onEvent: () => this.eventAdded(assignment.attemptId) };
    const holdsSlot = this.freeSlots() > 0;
    let attempt: Attempt;
    try {
      attempt = new Attempt(assignment, context, holdsSlot);
    } catch (error) {
      log.error('could not open an outbox', { attemptId: assignment.attemptId, error: messageOf(error) });
      return;
    }
    this.attempts.set(attempt.id, attempt);
    if (!holdsSlot) {
      log.warn('assignment refused', { attemptId: attempt.id, job: assignment.job.name, draining: this.draining });
      attempt.refuse(this.draining === null ? 'the agent had no free slot for this job' : `the agent took no new job: ${this.draining}`);
      return;
    }
    this.accepted += 1;
    log.info('job started', { attemptId: attempt.id, job: assignment.job.name });
    const max = this.options.maxJobs;
    if (max > 0 && this.accepted >= max) this.drain(`it ran its ${max} job${max === 1 ? '' : 's'} (--max-jobs)`);
    attempt.start();
    void attempt.finished.then(() => {
      log.info('job ended', { attemptId: attempt.id });
      this.release(attempt);
      this.stopIfIdle();
    });
  }

  /** Forgets an attempt that is settled and delivered (or dropped), freeing its slot. */
  private release(attempt: Attempt): void {
    if (!attempt.settled || !(attempt.dropped || attempt.outbox.delivered)) return;
    if (this.attempts.get(attempt.id) !== attempt) return;
    attempt.outbox.remove();
    this.attempts.delete(attempt.id);
    this.sendReady();
    this.stopIfIdle();
  }

  private freeSlots(): number {
    if (this.draining !== null) return 0;
    const busy = [...this.attempts.values()].filter((attempt) => attempt.holdsSlot).length;
    const byCapacity = this.options.capacity.jobs - busy;
    const byMax = this.options.maxJobs > 0 ? this.options.maxJobs - this.accepted : Infinity;
    return Math.max(0, Math.min(byCapacity, byMax));
  }

  private sendReady(): void {
    if (this.welcomed) this.send({ type: 'ready', slots: this.freeSlots() });
  }

  /** Takes no new job from now on; stops once the running ones are delivered. */
  private drain(reason: string): void {
    if (this.draining !== null) return;
    this.draining = reason;
    this.options.log.info('draining', { reason, running: this.attempts.size });
    this.sendReady();
    this.stopIfIdle();
  }

  /** Takes no new job, abandons the running ones, and stops once their processes are gone (see stopIfIdle). */
  private stopNow(): void {
    if (this.stoppingNow) return;
    this.stoppingNow = true;
    this.drain('the agent is stopping now');
    for (const attempt of this.attempts.values()) attempt.abandon('the agent was stopped by its engine: the job\'s processes were ended, and the server counts this attempt lost');
    this.stopIfIdle();
  }

  /**
   * Stops a draining agent once nothing holds it: every attempt delivered, or — stopping
   * now — every job ended (what they printed is sent, not waited for).
   */
  private stopIfIdle(): void {
    if (this.draining === null || this.stopped) return;
    const attempts = [...this.attempts.values()];
    const ended = this.stoppingNow && attempts.every((attempt) => attempt.settled);
    if (attempts.length > 0 && !ended) return;
    this.stopped = true;
    const ws = this.ws;
    if (ws !== null && this.welcomed) {
      // The socket sends these before its close frame.
      this.flush();
      this.send({ type: 'bye', reason: this.draining });
      ws.close(1000, 'bye');
    } else {
      ws?.terminate();
    }
    this.sleeper.poke();
  }

  private fail(error: SlipwayError): void {
    if (this.fatal !== null) return;
    this.fatal = error;
    this.stopped = true;
    this.ws?.terminate();
  }

  /** After a fatal error: stop every job and wait until their processes are gone. */
  private async abandonAll(): Promise<void> {
    const attempts = [...this.attempts.values()];
    for (const attempt of attempts) attempt.drop('the agent cannot reach the server');
    await Promise.all(attempts.map((attempt) => attempt.finished));
    this.attempts.clear();
  }

  /**
   * An attempt's first event (`started`) waits for its first output to share a frame:
   * sent alone it would cost the server a durable commit, and the output behind it a
   * second one (the time to the first log line a user sees). The job's first output
   * follows within a few milliseconds; STARTED_WAIT_MS bounds the wait when it does not.
   */
  private eventAdded(attemptId: number): void {
    if (this.attempts.get(attemptId)?.outbox.lastSeq !== 1) return this.scheduleFlush();
    setTimeout(() => this.scheduleFlush(), STARTED_WAIT_MS).unref();
  }

  /**
   * Sends soon: with no batch in flight, once this turn of the event loop has added its
   * events (the first events of a job are the latency a user sees); otherwise after
   * FLUSH_DELAY_MS or the ack that empties the flight, whichever comes first.
   */
  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = (): void => {
      this.flushScheduled = false;
      this.flushTimer = null;
      this.flush();
    };
    if (this.awaitingAck()) this.flushTimer = setTimeout(run, FLUSH_DELAY_MS);
    else setImmediate(run);
  }

  /** After an ack: events waiting to share a frame go now if nothing else is in flight. */
  private flushEarly(): void {
    if (this.flushTimer === null || this.awaitingAck()) return;
    clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.flushScheduled = false;
    this.flush();
  }

  /** An ack made room in a full send window: send again once this read's acks are in. */
  private reopenWindow(): void {
    this.windowFull = false;
    if (this.flushTimer !== null) clearTimeout(this.flushTimer);
    this.flushTimer = null;
    this.flushScheduled = true;
    setImmediate(() => {
      this.flushScheduled = false;
      this.flush();
    });
  }

  private awaitingAck(): boolean {
    for (const attempt of this.attempts.values()) if (attempt.outbox.awaitingAck) return true;
    return false;
  }

  /**
   * Sends what the outboxes hold, one batch per attempt in turn, while the socket keeps up
   * and the send window (unacknowledged bytes of all attempts) has room.
   */
  private flush(): void {
    const ws = this.ws;
    if (ws === null || !this.welcomed || ws.readyState !== WebSocket.OPEN) return;
    const windowBytes = this.options.maxUnackedBytes ?? MAX_UNACKED_BYTES;
    const batchBytes = Math.min(MAX_BATCH_BYTES, windowBytes);
    let unacked = 0;
    for (const attempt of this.attempts.values()) unacked += attempt.outbox.inFlightBytes;
    for (let sent = true; sent; ) {
      sent = false;
      for (const attempt of this.attempts.values()) {
        if (ws.bufferedAmount >= HIGH_WATER_BYTES) {
          this.blocked = true;
          return;
        }
        // Acks are cumulative per attempt, and each one reopens a full window (see handle).
        // With nothing in flight a batch goes whatever its size: an event larger than the
        // window is still sent.
        if (unacked > 0 && unacked + batchBytes > windowBytes) {
          if (attempt.outbox.pending) this.windowFull = true;
          continue;
        }
        const batch = attempt.outbox.nextBatch(batchBytes, attempt.frameHeader);
        if (batch === null) continue;
        unacked += batch.bytes;
        ws.send(batch.frame, { binary: true }, (error) => {
          if (error === undefined && this.blocked && ws.bufferedAmount < HIGH_WATER_BYTES / 2) {
            this.blocked = false;
            this.scheduleFlush();
          }
        });
        sent = true;
      }
    }
  }

  private send(message: AgentMessage): void {
    const ws = this.ws;
    if (ws !== null && ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(message));
  }

  private protocolError(ws: WebSocket, what: string): void {
    this.options.log.error('bad message from the server', { error: what });
    ws.close(CloseCode.BAD_MESSAGE, what.slice(0, 120));
  }

  private heard(): void {
    this.lastHeardAt = Date.now();
  }

  /** Heartbeats every intervalMs, and a check that the server is still there. */
  private watch(intervalMs: number): void {
    this.unwatch();
    this.heartbeat = setInterval(() => {
      const ws = this.ws;
      if (ws === null) return;
      if (Date.now() - this.lastHeardAt > SILENT_INTERVALS * intervalMs) {
        this.options.log.warn('server silent', { silentMs: Date.now() - this.lastHeardAt });
        ws.terminate();
        return;
      }
      if (this.welcomed) this.send({ type: 'heartbeat', atMs: Date.now() });
      ws.ping();
    }, intervalMs);
  }

  private unwatch(): void {
    if (this.heartbeat !== null) clearInterval(this.heartbeat);
    this.heartbeat = null;
  }
}

function unauthorized(reason: string): SlipwayError {
  return new SlipwayError(
    'AGENT_UNAUTHORIZED',
    `the server refused the agent token (${reason || 'unauthorized'}): check --token or SLIPWAY_AGENT_TOKEN`,
  );
}

function rawText(data: WebSocket.RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  return Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data).toString('utf8');
}
