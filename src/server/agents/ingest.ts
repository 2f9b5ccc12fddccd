import type { Logger } from 'pino';
import { isSlipwayError, messageOf } from '../../errors/index.js';
import type { AttemptEvent } from '../../protocol/index.js';
import type { JobAttempt, Store } from '../../store/index.js';
import type { BuildController } from '../builds/index.js';
import { hashToken } from '../crypto/index.js';
import { toServerEvent, type EventBus } from '../events/index.js';
import type { LogChunk, LogStore } from '../logs/index.js';
import { cut, send, type Connection } from './connection.js';
import { logKeyOf } from './files.js';
import type { AgentMetrics } from './metrics.js';

export type IngestOptions = {
  store: Store;
  logs: LogStore;
  builds: BuildController;
  events: EventBus;
  metrics: AgentMetrics;
  logger: Logger;
  /** Called when an attempt ended: its slot is free, jobs may be pending. */
  onAttemptEnded: (connection: Connection, attemptId: number) => void;
  /** Least time between two job.log events of one job. */
  logEventIntervalMs: number;
};

// A gap inside one connection means frames were lost on the way; the agent rewinds only
// on a new connection (welcome's resume), so the server cuts this one with this code.
const GAP_CLOSE = 1011;

/**
 * An `events` message: checks the attempt's token (fencing), stores the events in the
 * attempt's log (state changes as empty data chunks, so one sequence stays gap-free),
 * acknowledges what is durable, and reports `started` and `finished` to the controller
 * once they are durable. The caller runs one message of a connection at a time.
 */
export function createIngest(options: IngestOptions) {
  const { store, logs, builds, logger } = options;
  const lastLogEvent = new Map<number, number>();
  const trailing = new Map<number, NodeJS.Timeout>();

  async function publishLog(attempt: JobAttempt): Promise<void> {
    const job = await store.jobs.get(attempt.jobId);
    if (job === null) return;
    const size = await logs.size(logKeyOf(attempt));
    const stored = await store.events.append({ type: 'job.log', projectId: job.projectId, payload: { jobId: job.id, attempt: attempt.number, size } });
    options.events.notify([toServerEvent(stored)]);
  }

  /** At most one job.log event per interval per job, and always one after the last growth. */
  function logGrew(attempt: JobAttempt): void {
    const now = Date.now();
    const last = lastLogEvent.get(attempt.jobId) ?? 0;
    const publish = () => {
      lastLogEvent.set(attempt.jobId, Date.now());
      trailing.delete(attempt.jobId);
      publishLog(attempt).catch((error: unknown) => logger.warn({ jobId: attempt.jobId, err: messageOf(error) }, 'could not publish job.log'));
    };
    if (now - last >= options.logEventIntervalMs) return publish();
    if (trailing.has(attempt.jobId)) return;
    const timer = setTimeout(publish, options.logEventIntervalMs - (now - last));
    timer.unref();
    trailing.set(attempt.jobId, timer);
  }

  return {
    async events(connection: Connection, attemptId: number, token: string, events: AttemptEvent[]): Promise<void> {
      const attempt = await store.attempts.getByTokenHash(hashToken(token));
      if (attempt === null || attempt.id !== attemptId || attempt.agentId !== connection.agentId || attempt.finishedAt !== null) {
        send(connection, { type: 'reject', attemptId, code: 'CONFLICT', message: 'the attempt token is stale: the attempt ended or was given to another agent' });
        if (connection.active.delete(attemptId)) options.onAttemptEnded(connection, attemptId);
        return;
      }
      const key = logKeyOf(attempt);
      let ackedSeq: number;
      try {
        ({ ackedSeq } = await logs.append(key, events.map(toChunk)));
      } catch (error) {
        if (!isSlipwayError(error) || error.code !== 'CONFLICT') throw error;
        const stored = await logs.lastSeq(key);
        logger.warn({ attemptId, agentId: connection.agentId, ackedSeq: stored, err: error.message }, 'log gap; asking the agent to resend');
        await store.attempts.setLogSeq(attemptId, stored);
        send(connection, { type: 'ack', attemptId, seq: stored });
        cut(connection, GAP_CLOSE, `log gap after seq ${stored}: reconnect and resend`);
        return;
      }
      const fresh = events.filter((event) => event.seq > attempt.logSeq && event.seq <= ackedSeq);
      const bytes = fresh.reduce((sum, event) => sum + (event.kind === 'data' ? event.data.length : 0), 0);
      if (bytes > 0) options.metrics.logBytes.inc(bytes);
      await store.attempts.setLogSeq(attemptId, ackedSeq);
      send(connection, { type: 'ack', attemptId, seq: ackedSeq });
      if (fresh.length > 0) logGrew(attempt);
      for (const event of events) {
        if (event.seq > ackedSeq) break;
        if (event.kind === 'started' && attempt.status === 'assigned') await builds.attemptStarted(attemptId);
        if (event.kind === 'finished') {
          await logs.complete(key);
          const { status, failure, exitCode } = event.result;
          await builds.attemptFinished({ attemptId, status, failure, exitCode });
          connection.active.delete(attemptId);
          options.onAttemptEnded(connection, attemptId);
        }
      }
    },

    close(): void {
      for (const timer of trailing.values()) clearTimeout(timer);
      trailing.clear();
    },
  };
}

export type Ingest = ReturnType<typeof createIngest>;

/** State changes share the sequence with the output: the log store keeps them as empty data. */
function toChunk(event: AttemptEvent): LogChunk {
  if (event.kind === 'started' || event.kind === 'finished') {
    return { seq: event.seq, kind: 'data', stream: 'system', data: '', atMs: event.atMs };
  }
  return event;
}
