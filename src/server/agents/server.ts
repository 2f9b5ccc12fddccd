import type http from 'node:http';
import type { Duplex } from 'node:stream';
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { messageOf } from '../../errors/index.js';
import type { JobSpec } from '../../pipeline/index.js';
import type { AgentSlot } from '../../scheduler/index.js';
import {
  ACCEPTED_SUBPROTOCOLS,
  CloseCode,
  PROTOCOL_VERSION,
  decodeEventsFrame,
  parseAgentMessage,
  type AgentMessage,
  type EventsFrame,
  type Parsed,
} from '../../protocol/index.js';
import type { Store } from '../../store/index.js';
import type { BuildController } from '../builds/index.js';
import type { ServerConfig } from '../config/index.js';
import { hashToken } from '../crypto/index.js';
import { toServerEvent, type EventBus } from '../events/index.js';
import { cut, send, type Connection } from './connection.js';
import { createDispatcher, type AgentEvent, type EngineHooks } from './dispatch.js';
import { logKeyOf, type FileStores } from './files.js';
import { ReadGate } from './flow.js';
import { createIngest } from './ingest.js';
import { createAgentMetrics } from './metrics.js';

export type AgentServerOptions = {
  /** The HTTP server to take WebSocket upgrades from (fastify's app.server). */
  server: http.Server;
  store: Store;
  config: ServerConfig;
  secretsKey: Buffer;
  builds: BuildController;
  events: EventBus;
  files: FileStores;
  registry: Registry;
  logger: Logger;
  /** Where agents reach this server, for the file URLs of assignments. */
  publicUrl: string;
  now?: () => number;
  /** How often the dispatcher looks for work without being asked (a backstop for jobs queued by others). */
  dispatchIntervalMs?: number;
};

export type AgentServer = {
  /** Asks the dispatcher for a round now (jobs were queued). */
  dispatch(): void;
  /** Connected agents by id. */
  connected(): number[];
  /** Connected agents as the provisioner sees them: ready (said it has slots) and busy (running jobs). */
  agentStates(): Array<{ agentId: number; name: string; ready: boolean; busy: boolean }>;
  /** Connected agents with free slots that may be given jobs (not draining), as matchJobs takes them. */
  agentSlots(): AgentSlot[];
  /**
   * Takes no new job to the named agent from now on, waits for a dispatch round in progress,
   * and tells whether the agent is free of jobs: then it may be stopped. When it is not, the
   * caller calls undrain() to give it jobs again.
   */
  drain(name: string): Promise<boolean>;
  undrain(name: string): void;
  /** The engine manager's hooks: agents' images, and services for jobs that have them. */
  useEngines(hooks: EngineHooks): void;
  /** Hears agents connect, leave, take and finish jobs, and rounds that left jobs waiting. */
  onAgentEvent(listener: (event: AgentEvent) => void): () => void;
  /**
   * Drops an agent's connection at once (no close handshake), ignoring frames still
   * buffered on it; the agent reconnects and resends what was not acknowledged.
   */
  disconnect(agentId: number): boolean;
  /**
   * Stops the timers and closes every agent socket with 1001 (going away: they reconnect
   * to the restarted server), then waits for messages being handled. Idempotent.
   */
  close(): Promise<void>;
};

export const CONNECT_PATH = '/api/v1/agents/connect';
// A round every 250 ms: a job queued by a trigger waits at most this long for an idle agent.
const DISPATCH_INTERVAL_MS = 250;
// job.log events at most every 250 ms per job: a chatty job would otherwise flood the event stream.
const LOG_EVENT_INTERVAL_MS = 250;
// Frames of one agent received and not yet stored, at most: an agent keeps less than this
// unacknowledged (8 MiB), so only one that ignores acks ever waits on it.
const MAX_PENDING_BYTES = 16 * 1024 * 1024;
// An agent answers a close frame at once; one that has not within a second is not listening.
const CLOSE_WAIT_MS = 1000;

/**
 * What an agent.updated event says happened: its connection came or went, or its status in
 * the store changed (online again after unreachable, offline after bye, unreachable, lost).
 */
export type AgentChange = 'connected' | 'disconnected' | 'online' | 'offline' | 'unreachable' | 'lost';

/**
 * The agent endpoint (docs/protocol.md): WebSocket upgrades on CONNECT_PATH, hello and
 * welcome, dispatching jobs, storing events, heartbeats and the two-stage failure
 * detection (unreachable, then lost), cancels from the controller.
 */
export function startAgentServer(options: AgentServerOptions): AgentServer {
  const { store, config, builds, logger } = options;
  const now = options.now ?? Date.now;
  const metrics = createAgentMetrics(options.registry, store);
  const connections = new Map<number, Connection>();
  const inFlight = new Set<Promise<void>>();
  let closing: Promise<void> | null = null;
  /** Agent names being stopped by their engine: the dispatcher gives them nothing. */
  const draining = new Set<string>();
  const listeners = new Set<(event: AgentEvent) => void>();
  const emit = (event: AgentEvent): void => {
    for (const listener of [...listeners]) listener(event);
  };
  /** agent.updated on the event stream (GET /api/v1/events): the agents page and the dashboard follow it. */
  const published = (agentId: number, name: string, change: AgentChange): void => {
    track(
      (async () => {
        const stored = await store.events.append({ type: 'agent.updated', projectId: null, payload: { agentId, name, change } });
        options.events.notify([toServerEvent(stored)]);
      })(),
    );
  };
  const dispatchable = (): Connection[] => [...connections.values()].filter((connection) => !draining.has(connection.name));

  let engineHooks: EngineHooks | null = null;
  const dispatcher = createDispatcher({
    store,
    builds,
    secretsKey: options.secretsKey,
    publicUrl: options.publicUrl,
    registryAddress: config.registry?.address ?? null,
    engines: () => engineHooks,
    connections: dispatchable,
    metrics,
    logger,
    now,
    onAgentEvent: emit,
  });
  const ingest = createIngest({
    store,
    logs: options.files.logs,
    builds,
    events: options.events,
    metrics,
    logger,
    logEventIntervalMs: LOG_EVENT_INTERVAL_MS,
    now,
    onAttemptEnded: (connection) => {
      emit({ type: 'released', agentId: connection.agentId, name: connection.name });
      dispatcher.kick();
    },
  });

  const wss = new WebSocketServer({ noServer: true, handleProtocols: (protocols) => ACCEPTED_SUBPROTOCOLS.find((protocol) => protocols.has(protocol)) ?? false });
  const onUpgrade = (request: http.IncomingMessage, socket: Duplex, head: Buffer) => {
    if (closing !== null) return refuse(socket, 503, 'Service Unavailable');
    if (new URL(request.url ?? '/', 'http://x').pathname !== CONNECT_PATH) return refuse(socket, 404, 'Not Found');
    track(
      (async () => {
        const presented = /^Bearer\s+(\S+)\s*$/i.exec(request.headers.authorization ?? '')?.[1];
        const token = presented === undefined ? null : await store.tokens.findActiveByHash(hashToken(presented), now());
        if (token === null || token.kind !== 'agent') return refuse(socket, 401, 'Unauthorized');
        wss.handleUpgrade(request, socket, head, (ws) => accept(ws));
      })(),
    );
  };
  options.server.on('upgrade', onUpgrade);

  function track(work: Promise<void>): void {
    const tracked = work.catch((error: unknown) => logger.error({ err: messageOf(error) }, 'agent endpoint failed'));
    inFlight.add(tracked);
    void tracked.finally(() => inFlight.delete(tracked));
  }

  function accept(ws: WebSocket): void {
    let connection: Connection | null = null;
    let chain: Promise<void> = Promise.resolve();
    let cutBeforeHello = false;
    const gate = new ReadGate(ws, MAX_PENDING_BYTES);
    ws.on('message', (data, isBinary) => {
      if (connection?.cut === true || cutBeforeHello || closing !== null) return;
      const parsed = isBinary ? parseEvents(data) : parseAgentMessage(String(data));
      if (!parsed.ok) {
        cutBeforeHello = true;
        if (connection !== null) connection.cut = true;
        ws.close(CloseCode.BAD_MESSAGE, parsed.error.slice(0, 120));
        return;
      }
      const message = parsed.message;
      const bytes = byteLengthOf(data);
      gate.received(bytes);
      let stored: Promise<void> = Promise.resolve();
      const work = (chain = chain.then(async () => {
        if (connection?.cut === true || cutBeforeHello) return;
        if (connection === null) {
          if (message.type !== 'hello') {
            cutBeforeHello = true;
            ws.close(CloseCode.BAD_MESSAGE, 'the first message must be hello');
            return;
          }
          connection = await hello(ws, message);
          if (connection === null) cutBeforeHello = true;
          return;
        }
        // Events are only started here, in order; the next message goes on while they are stored.
        if (message.type === 'events') ({ stored } = await ingest.events(connection, message.attemptId, message.token, message.events));
        else await receive(connection, message);
      }));
      track(work.then(() => stored).finally(() => gate.done(bytes)));
    });
    ws.on('close', () => {
      const current = connection;
      if (current !== null && connections.get(current.agentId) === current) {
        connections.delete(current.agentId);
        emit({ type: 'disconnected', agentId: current.agentId, name: current.name });
        published(current.agentId, current.name, 'disconnected');
      }
    });
    ws.on('error', (error) => logger.warn({ err: error.message }, 'agent socket error'));
  }

  async function hello(ws: WebSocket, message: Extract<AgentMessage, { type: 'hello' }>): Promise<Connection | null> {
    if (message.protocol !== PROTOCOL_VERSION) {
      ws.close(CloseCode.UNSUPPORTED_PROTOCOL, `this server speaks agent protocol ${PROTOCOL_VERSION} only; the agent speaks ${message.protocol}: run an agent of the server's version`);
      return null;
    }
    const agent = await store.agents.register({
      name: message.name,
      kind: message.engine === null ? 'registered' : 'engine',
      engine: message.engine?.name ?? null,
      engineTaskId: message.engine?.taskId ?? null,
      labels: message.labels,
      capacity: { cpus: message.capacity.cpus, memoryMiB: message.capacity.memoryMiB },
      version: message.version,
    });
    const previous = connections.get(agent.id);
    if (previous !== undefined) cut(previous, CloseCode.REPLACED, 'another connection took over this agent name');
    const connection: Connection = {
      ws,
      agentId: agent.id,
      name: agent.name,
      labels: message.labels,
      capacity: message.capacity,
      freeSlots: 0,
      active: new Map(),
      cut: false,
      assigned: (attemptId, token) => ingest.prepare(connection, attemptId, token),
    };
    const resume: Array<{ attemptId: number; ackedSeq: number }> = [];
    const cancel: number[] = [];
    const reported = new Set<number>();
    for (const { attemptId, lastSeq } of message.running) {
      reported.add(attemptId);
      const attempt = await store.attempts.get(attemptId);
      if (attempt === null || attempt.agentId !== agent.id || attempt.revokedAt !== null || attempt.finishedAt !== null) {
        cancel.push(attemptId);
        continue;
      }
      // An agent with nothing newer than what is stored resumes one event back: when that last
      // event is the attempt's end, a server killed before recording it hears it again (a
      // duplicate otherwise, acknowledged and ignored; an agent that had it acknowledged
      // resends its log from the start).
      const stored = await options.files.logs.lastSeq(logKeyOf(attempt));
      resume.push({ attemptId, ackedSeq: lastSeq <= stored ? Math.max(0, stored - 1) : stored });
      const job = await store.jobs.get(attempt.jobId);
      const spec = job?.spec as JobSpec | undefined;
      connection.active.set(attemptId, { cpus: spec?.resources.cpus ?? 0, memoryMiB: spec?.resources.memoryMiB ?? 0 });
    }
    // Attempts this agent had and no longer knows of (it restarted): they are gone with it.
    for (const attempt of await store.attempts.listRunningByAgent(agent.id)) {
      if (!reported.has(attempt.id)) await loseAttempt(attempt.id);
    }
    connections.set(agent.id, connection);
    send(connection, { type: 'welcome', agentId: agent.id, heartbeatMs: config.agents.heartbeatIntervalMs, resume, cancel });
    // Cancels stored while the agent was away or the server was down are told now. Read once
    // the connection is listed: a cancel committing meanwhile is sent by the cancel listener,
    // which finds it (read before, that cancel would reach neither; sent twice, it is harmless).
    if (resume.length > 0) track(tellStoredCancels(connection, resume.map((entry) => entry.attemptId)));
    logger.info({ agentId: agent.id, name: agent.name, resumed: resume.length, canceled: cancel.length }, 'agent connected');
    published(agent.id, agent.name, 'connected');
    emit({ type: 'connected', agentId: agent.id, name: agent.name });
    return connection;
  }

  async function tellStoredCancels(connection: Connection, attemptIds: readonly number[]): Promise<void> {
    for (const attemptId of attemptIds) {
      const reason = (await store.attempts.get(attemptId))?.cancelReason ?? null;
      if (reason !== null) send(connection, { type: 'cancel', attemptId, reason });
    }
  }

  async function receive(connection: Connection, message: Exclude<Received, { type: 'events' }>): Promise<void> {
    switch (message.type) {
      case 'hello':
        cut(connection, CloseCode.BAD_MESSAGE, 'hello was already said');
        return;
      case 'heartbeat':
        await store.agents.heartbeat(connection.agentId, now());
        if (await store.agents.setStatus({ id: connection.agentId, from: ['unreachable'], to: 'online' })) published(connection.agentId, connection.name, 'online');
        return;
      case 'ready':
        connection.freeSlots = message.slots;
        dispatcher.kick();
        return;
      case 'bye':
        logger.info({ agentId: connection.agentId, reason: message.reason }, 'agent said bye');
        connection.freeSlots = 0;
        if (await store.agents.setStatus({ id: connection.agentId, from: ['online', 'unreachable'], to: 'offline' })) published(connection.agentId, connection.name, 'offline');
        return;
    }
  }

  /** The attempt's agent is gone: the controller retries or fails the job; the token is revoked either way. */
  async function loseAttempt(attemptId: number): Promise<void> {
    await builds.attemptLost(attemptId);
    await store.attempts.finish(attemptId, { status: 'lost', failure: { kind: 'agent_lost', message: 'agent lost' } });
    await ingest.forget(attemptId);
  }

  /** Two stages: no heartbeat for unreachableAfterMs → unreachable (jobs keep running); for lostAfterMs → lost. */
  async function checkLiveness(): Promise<void> {
    const at = now();
    for (const agent of await store.agents.staleSince(at - config.agents.unreachableAfterMs)) {
      if (await store.agents.setStatus({ id: agent.id, from: ['online'], to: 'unreachable' })) {
        logger.warn({ agentId: agent.id, name: agent.name, lastSeenAt: agent.lastSeenAt }, 'agent unreachable');
        published(agent.id, agent.name, 'unreachable');
      }
    }
    const unreachable = await store.agents.list({ status: 'unreachable', limit: 500 });
    for (const agent of unreachable.items) {
      if ((agent.lastSeenAt ?? 0) >= at - config.agents.lostAfterMs) continue;
      if (!(await store.agents.setStatus({ id: agent.id, from: ['unreachable'], to: 'lost' }))) continue;
      logger.warn({ agentId: agent.id, name: agent.name, lastSeenAt: agent.lastSeenAt }, 'agent lost');
      published(agent.id, agent.name, 'lost');
      const connection = connections.get(agent.id);
      if (connection !== undefined) {
        connections.delete(agent.id);
        cut(connection, 1001, 'no heartbeat: the agent was declared lost');
        connection.ws.terminate();
      }
      for (const attempt of await store.attempts.listRunningByAgent(agent.id)) await loseAttempt(attempt.id);
      dispatcher.kick();
    }
  }

  const stopCancels = builds.onCancelAttempt((attemptId, reason) => {
    ingest.recheck(attemptId);
    track(
      (async () => {
        const attempt = await store.attempts.get(attemptId);
        const connection = attempt?.agentId === null || attempt === null ? undefined : connections.get(attempt.agentId);
        if (connection !== undefined) send(connection, { type: 'cancel', attemptId, reason });
      })(),
    );
  });

  const dispatchTimer = setInterval(() => dispatcher.kick(), options.dispatchIntervalMs ?? DISPATCH_INTERVAL_MS);
  dispatchTimer.unref();
  // Check four times per unreachable period: an agent is marked at most a quarter late.
  let checking = false;
  const livenessTimer = setInterval(() => {
    if (checking) return;
    checking = true;
    track(checkLiveness().finally(() => (checking = false)));
  }, Math.max(10, Math.floor(config.agents.unreachableAfterMs / 4)));
  livenessTimer.unref();

  return {
    dispatch: () => dispatcher.kick(),
    connected: () => [...connections.keys()],
    agentStates: () =>
      [...connections.values()].filter((c) => !c.cut).map((c) => ({ agentId: c.agentId, name: c.name, ready: c.freeSlots > 0 || c.active.size > 0, busy: c.active.size > 0 })),
    agentSlots: () => dispatchable().flatMap((connection) => (connection.cut || connection.freeSlots <= 0 ? [] : [slotOf(connection)])),
    async drain(name) {
      draining.add(name);
      // A round that listed the agent before it was drained may still give it a job.
      await dispatcher.idle();
      return [...connections.values()].every((connection) => connection.name !== name || connection.active.size === 0);
    },
    undrain(name) {
      draining.delete(name);
    },
    useEngines(hooks) {
      engineHooks = hooks;
    },
    onAgentEvent(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    disconnect(agentId) {
      const connection = connections.get(agentId);
      if (connection === undefined) return false;
      connections.delete(agentId);
      connection.cut = true;
      connection.ws.terminate();
      return true;
    },
    close() {
      closing ??= (async () => {
        clearInterval(dispatchTimer);
        clearInterval(livenessTimer);
        stopCancels();
        options.server.off('upgrade', onUpgrade);
        for (const ws of wss.clients) ws.close(CloseCode.GOING_AWAY, 'the server is shutting down');
        for (const connection of connections.values()) connection.cut = true;
        connections.clear();
        await dispatcher.settled();
        while (inFlight.size > 0) await Promise.all([...inFlight]);
        await ingest.close();
        await closedWithin([...wss.clients], CLOSE_WAIT_MS);
        // Sockets that did not finish the closing handshake in time.
        for (const ws of wss.clients) ws.terminate();
        await new Promise<void>((resolve) => wss.close(() => resolve()));
      })();
      return closing;
    },
  };
}

/** What is left of a connected agent's capacity, as matchJobs takes it. */
function slotOf(connection: Connection): AgentSlot {
  let freeCpus = connection.capacity.cpus;
  let freeMemoryMiB = connection.capacity.memoryMiB;
  for (const held of connection.active.values()) {
    freeCpus -= held.cpus;
    freeMemoryMiB -= held.memoryMiB;
  }
  return { id: connection.agentId, labels: connection.labels, freeSlots: connection.freeSlots, freeCpus, freeMemoryMiB };
}

/** Resolves once every socket closed, or after ms. */
function closedWithin(sockets: WebSocket[], ms: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    timer.unref();
    void Promise.all(sockets.map((ws) => new Promise((closed) => ws.once('close', closed)))).then(() => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}

/** What one frame from an agent says: a JSON message, or (binary) an attempt's events. */
type Received = AgentMessage | ({ type: 'events' } & EventsFrame);

function parseEvents(data: RawData): Parsed<Received> {
  const frame = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  const parsed = decodeEventsFrame(frame);
  return parsed.ok ? { ok: true, message: { type: 'events', ...parsed.message } } : parsed;
}

function byteLengthOf(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, part) => sum + part.length, 0);
  return data.byteLength;
}
