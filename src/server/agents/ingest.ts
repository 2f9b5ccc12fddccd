import type { Logger } from 'pino';
import { isSlipwayError, messageOf } from '../../errors/index.js';
import type { AttemptEvent } from '../../protocol/index.js';
import type { JobAttempt, Store } from '../../store/index.js';
import type { BuildController } from '../builds/index.js';
import { hashToken } from '../crypto/index.js';
import { toServerEvent, type EventBus } from '../events/index.js';
import type { LogChunk, LogKey, LogStore } from '../logs/index.js';
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
  now?: () => number;
};

// A gap inside one connection means frames were lost on the way; the agent rewinds only
// on a new connection (welcome's resume), so the server cuts this one with this code.
const GAP_CLOSE = 1011;
// A checked token is trusted this long without asking the database again. The attempt's
// own changes through this server (finished, canceled, lost) drop it at once; this bounds
// how long a change made elsewhere (another server process, by hand) goes unseen.
const TOKEN_RECHECK_MS = 250;
// attempts.log_seq is informative (resume reads the log store), so it is written at most
// this often per attempt, and at the end: one database write per batch would cap ingest.
const LOG_SEQ_INTERVAL_MS = 250;

/** What ingest knows of one attempt whose events it takes. */
type Tracked = {
  attempt: JobAttempt;
  key: LogKey;
  /** The token was checked for this connection at checkedAt; null: check again. */
  checked: { connection: Connection; token: string; atMs: number } | null;
  /** The highest seq acknowledged (durable in the log store). */
  ackedSeq: number;
  /** The highest seq written to attempts.log_seq. */
  savedSeq: number;
  saveTimer: NodeJS.Timeout | null;
  startedReported: boolean;
  /** What follows each append (ack, state changes), one batch after the other; never rejects. */
  tail: Promise<void>;
};

type Appended = { ok: true; ackedSeq: number } | { ok: false; error: unknown };

/**
 * `events` messages: checks the attempt's token (fencing), stores the events in the
 * attempt's log (state changes as empty data chunks, so one sequence stays gap-free),
 * acknowledges what is durable, and reports `started` and `finished` to the controller
 * once they are durable.
 *
 * Pipelined: the caller runs events() for one connection one message at a time, in the
 * order received; it resolves once the token is checked and the append is under way (so
 * appends reach the log store in seq order), with `stored`, which settles once the events
 * are durable, acknowledged and their state changes reported. Several batches may be in
 * the log store at once; what follows their appends runs in order per attempt.
 */
export function createIngest(options: IngestOptions) {
  const { store, logs, builds, logger } = options;
  const now = options.now ?? Date.now;
  const lastLogEvent = new Map<number, number>();
  const trailing = new Map<number, NodeJS.Timeout>();
  const tracked = new Map<number, Tracked>();
  const saving = new Set<Promise<void>>();

  async function publishLog(attempt: JobAttempt): Promise<void> {
    const job = await store.jobs.get(attempt.jobId);
    if (job === null) return;
    const size = await logs.size(logKeyOf(attempt));
    const stored = await store.events.append({ type: 'job.log', projectId: job.projectId, payload: { jobId: job.id, attempt: attempt.number, size } });
    options.events.notify([toServerEvent(stored)]);
  }

  /** At most one job.log event per interval per job, and always one after the last growth. */
  function logGrew(attempt: JobAttempt): void {
    const at = Date.now();
    const last = lastLogEvent.get(attempt.jobId) ?? 0;
    const publish = () => {
      lastLogEvent.set(attempt.jobId, Date.now());
      trailing.delete(attempt.jobId);
      publishLog(attempt).catch((error: unknown) => logger.warn({ jobId: attempt.jobId, err: messageOf(error) }, 'could not publish job.log'));
    };
    if (at - last >= options.logEventIntervalMs) return publish();
    if (trailing.has(attempt.jobId)) return;
    const timer = setTimeout(publish, options.logEventIntervalMs - (at - last));
    timer.unref();
    trailing.set(attempt.jobId, timer);
  }

  /** Writes the acknowledged seq to attempts.log_seq now; never rejects. */
  function saveLogSeq(entry: Tracked): Promise<void> {
    if (entry.saveTimer !== null) clearTimeout(entry.saveTimer);
    entry.saveTimer = null;
    const seq = entry.ackedSeq;
    if (seq <= entry.savedSeq) return Promise.resolve();
    entry.savedSeq = seq;
    const saved = store.attempts
      .setLogSeq(entry.attempt.id, seq)
      .then(() => undefined, (error: unknown) => logger.warn({ attemptId: entry.attempt.id, err: messageOf(error) }, 'could not record the log seq'));
    saving.add(saved);
    void saved.finally(() => saving.delete(saved));
    return saved;
  }

  function acknowledged(entry: Tracked): void {
    if (entry.saveTimer !== null || entry.ackedSeq <= entry.savedSeq) return;
    entry.saveTimer = setTimeout(() => void saveLogSeq(entry), LOG_SEQ_INTERVAL_MS);
    entry.saveTimer.unref();
  }

  /** The attempt if the token is live for this connection; the database is asked when the cached check is stale. */
  async function check(connection: Connection, attemptId: number, token: string): Promise<Tracked | null> {
    const known = tracked.get(attemptId);
    const checked = known?.checked ?? null;
    if (known !== undefined && checked !== null && checked.connection === connection && checked.token === token && now() - checked.atMs < TOKEN_RECHECK_MS) {
      return known;
    }
    const attempt = await store.attempts.getByTokenHash(hashToken(token));
    if (attempt === null || attempt.id !== attemptId || attempt.agentId !== connection.agentId || attempt.finishedAt !== null) {
      if (known !== undefined) known.checked = null;
      return null;
    }
    if (known !== undefined) {
      known.attempt = attempt;
      known.checked = { connection, token, atMs: now() };
      return known;
    }
    const key = logKeyOf(attempt);
    const storedSeq = await logs.lastSeq(key);
    const entry: Tracked = {
      attempt,
      key,
      checked: { connection, token, atMs: now() },
      ackedSeq: storedSeq,
      savedSeq: attempt.logSeq,
      saveTimer: null,
      startedReported: attempt.status !== 'assigned',
      tail: Promise.resolve(),
    };
    tracked.set(attemptId, entry);
    return entry;
  }

  /** After one append, in order per attempt: acknowledges, reports state changes. */
  async function afterAppend(connection: Connection, entry: Tracked, events: AttemptEvent[], appended: Appended): Promise<void> {
    const { attempt, key } = entry;
    const attemptId = attempt.id;
    if (!appended.ok) {
      const { error } = appended;
      if (!isSlipwayError(error) || error.code !== 'CONFLICT') throw error;
      if (connection.cut) return;
      const stored = await logs.lastSeq(key);
      logger.warn({ attemptId, agentId: connection.agentId, ackedSeq: stored, err: error.message }, 'log gap; asking the agent to resend');
      entry.ackedSeq = Math.max(entry.ackedSeq, stored);
      await saveLogSeq(entry);
      send(connection, { type: 'ack', attemptId, seq: stored });
      cut(connection, GAP_CLOSE, `log gap after seq ${stored}: reconnect and resend`);
      return;
    }
    const { ackedSeq } = appended;
    const previous = entry.ackedSeq;
    if (ackedSeq > previous) {
      entry.ackedSeq = ackedSeq;
      let bytes = 0;
      for (const event of events) if (event.kind === 'data' && event.seq > previous && event.seq <= ackedSeq) bytes += event.data.length;
      if (bytes > 0) options.metrics.logBytes.inc(bytes);
      logGrew(attempt);
      acknowledged(entry);
    }
    // Duplicates are acknowledged too: the agent resending them needs to hear it. The end of
    // an attempt is acknowledged only once it is recorded: an agent that heard the ack forgets
    // the attempt, so a server killed in between would leave it running forever.
    const ending = events.some((event) => event.kind === 'finished' && event.seq <= ackedSeq);
    if (!ending) send(connection, { type: 'ack', attemptId, seq: ackedSeq });
    for (const event of events) {
      if (event.seq > ackedSeq) break;
      if (event.kind === 'started' && !entry.startedReported) {
        entry.startedReported = true;
        await builds.attemptStarted(attemptId);
      }
      if (event.kind === 'finished') {
        await logs.complete(key);
        await saveLogSeq(entry);
        // Later events with this token find the attempt finished in the database.
        tracked.delete(attemptId);
        const { status, failure, exitCode } = event.result;
        await builds.attemptFinished({ attemptId, status, failure, exitCode });
        send(connection, { type: 'ack', attemptId, seq: ackedSeq });
        connection.active.delete(attemptId);
        options.onAttemptEnded(connection, attemptId);
      }
    }
  }

  return {
    async events(connection: Connection, attemptId: number, token: string, events: AttemptEvent[]): Promise<{ stored: Promise<void> }> {
      const entry = await check(connection, attemptId, token);
      if (entry === null) {
        send(connection, { type: 'reject', attemptId, code: 'CONFLICT', message: 'the attempt token is stale: the attempt ended or was given to another agent' });
        if (connection.active.delete(attemptId)) options.onAttemptEnded(connection, attemptId);
        return { stored: Promise.resolve() };
      }
      // Called now, in message order: the log store applies one attempt's appends in call order.
      const appended: Promise<Appended> = logs.append(entry.key, events.map(toChunk)).then(
        ({ ackedSeq }) => ({ ok: true, ackedSeq }),
        (error: unknown) => ({ ok: false, error }),
      );
      const stored = entry.tail.then(async () => {
        try {
          await afterAppend(connection, entry, events, await appended);
        } catch (error) {
          // The agent resends what was not acknowledged on its next connection.
          logger.error({ attemptId, agentId: connection.agentId, err: messageOf(error) }, 'could not store events');
          cut(connection, GAP_CLOSE, 'the server could not store the events: reconnect and resend');
        }
      });
      entry.tail = stored;
      return { stored };
    },

    /** The attempt changed outside its events (canceled, lost): check its token again on the next message. */
    recheck(attemptId: number): void {
      const entry = tracked.get(attemptId);
      if (entry !== undefined) entry.checked = null;
    },

    /** The attempt ended without its events (its agent was lost): forgets it. */
    async forget(attemptId: number): Promise<void> {
      const entry = tracked.get(attemptId);
      if (entry === undefined) return;
      tracked.delete(attemptId);
      await saveLogSeq(entry);
    },

    /** Writes what is pending of attempts.log_seq and stops the timers; call after the last events() settled. */
    async close(): Promise<void> {
      for (const timer of trailing.values()) clearTimeout(timer);
      trailing.clear();
      await Promise.all([...tracked.values()].map((entry) => saveLogSeq(entry)));
      await Promise.all([...saving]);
      tracked.clear();
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
