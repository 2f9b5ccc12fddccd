/**
 * A stand-in for the server until the end-to-end suite exists: the agent protocol's
 * server side (docs/protocol.md), just enough of it to drive an agent. A `ws`
 * WebSocketServer on 127.0.0.1:0 checks the agent token, welcomes, assigns, cancels and
 * rejects; every event is stored with the real log store (src/server/logs) and
 * acknowledged with what the store says is durable, so "stored exactly once" is
 * checked against real storage. The same node:http server keeps artifacts and caches in
 * memory, checking each attempt's token.
 */
import { randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import type { JobResult } from '../../src/executor/index.js';
import type { JobSpec } from '../../src/pipeline/index.js';
import {
  CloseCode,
  FRAME_HEADER_BYTES,
  SUBPROTOCOL,
  decodeEventsFrame,
  parseAgentMessage,
  type AgentMessage,
  type Assignment,
  type FrameEvent,
  type ServerMessage,
} from '../../src/protocol/index.js';
import { openLogStore, type LogChunk, type LogStore } from '../../src/server/logs/index.js';
import { waitFor } from '../support/wait.js';

type Hello = Extract<AgentMessage, { type: 'hello' }>;

export type AssignRequest = {
  job: JobSpec;
  repository: string;
  commit: string;
  /** Artifacts of earlier attempts, placed before the job. */
  artifactsFrom?: Array<{ job: string; attemptId: number }>;
  variables?: Record<string, string>;
  masked?: string[];
};

export class Peer {
  readonly agentToken: string;
  readonly hellos: Hello[] = [];
  readonly readies: number[] = [];
  readonly byes: string[] = [];
  /** Every HTTP request for a file: whether its bearer token was the attempt's. */
  readonly fileRequests: Array<{ method: string; path: string; authorized: boolean; status: number }> = [];
  readonly results = new Map<number, JobResult>();
  /** Problems the peer saw (gaps, bad messages); a test expects none. */
  readonly errors: string[] = [];
  /** Total events received so far; the connection is cut when it crosses each of these. */
  cutAfterEvents: number[] = [];
  eventsReceived = 0;
  /** Bytes of the event records received (as the agent counts its window: frames without their headers). */
  eventBytesReceived = 0;
  /** Store events but keep their acks until releaseAcks(). */
  holdAcks = false;
  private heldAcks: Array<() => void> = [];
  heartbeats = 0;
  /** What `welcome` tells the agent. */
  heartbeatMs = 1000;
  connections = 0;
  cuts = 0;
  private readonly logs: LogStore;
  private readonly server: http.Server;
  private readonly wss: WebSocketServer;
  private readonly tokens = new Map<number, string>();
  private readonly files = new Map<string, Buffer>();
  private current: WebSocket | null = null;
  /** Sockets the peer cut: frames already in their buffers are not taken. */
  private readonly cut = new WeakSet<WebSocket>();
  private slots = 0;
  private nextAttemptId = 1;

  private constructor(logs: LogStore, agentToken: string) {
    this.logs = logs;
    this.agentToken = agentToken;
    this.server = http.createServer((req, res) => this.serveFile(req, res));
    this.wss = new WebSocketServer({
      noServer: true,
      handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    this.server.on('upgrade', (req, socket, head) => {
      if (req.url !== '/api/v1/agents/connect') {
        socket.destroy();
        return;
      }
      this.wss.handleUpgrade(req, socket, head, (ws) => this.accept(ws, req.headers.authorization));
    });
  }

  static async start(options: { logDir: string }): Promise<Peer> {
    const logs = await openLogStore({ dir: options.logDir });
    const peer = new Peer(logs, `agent-${randomBytes(8).toString('hex')}`);
    await new Promise<void>((resolve) => peer.server.listen(0, '127.0.0.1', resolve));
    return peer;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  get connected(): boolean {
    return this.current !== null;
  }

  /** Hands a job to the agent once it is connected with a free slot; returns the assignment. */
  async assign(request: AssignRequest): Promise<Assignment> {
    await waitFor('an agent with a free slot', () => this.current !== null && this.slots > 0);
    const attemptId = this.nextAttemptId++;
    const token = `attempt-${attemptId}-${randomBytes(8).toString('hex')}`;
    this.tokens.set(attemptId, token);
    const base = `${this.url}/api/v1/attempts/${attemptId}`;
    const assignment: Assignment = {
      type: 'assign',
      attemptId,
      token,
      job: request.job,
      variables: request.variables ?? {},
      source: { repository: request.repository, commit: request.commit, subdirectory: '' },
      artifacts: (request.artifactsFrom ?? []).map(({ job, attemptId: from }) => ({ job, url: `${base}/artifacts/${from}` })),
      cacheUrl: `${base}/caches`,
      artifactsUploadUrl: `${base}/artifacts`,
      masked: request.masked ?? [],
    };
    this.slots -= 1;
    this.send(assignment);
    return assignment;
  }

  /** Sends the acks held so far, in order, and acknowledges at once from now on. */
  releaseAcks(): void {
    this.holdAcks = false;
    const held = this.heldAcks;
    this.heldAcks = [];
    for (const ack of held) ack();
  }

  cancel(attemptId: number, reason = 'canceled by a test'): void {
    this.send({ type: 'cancel', attemptId, reason });
  }

  /** Makes the attempt's token stale, as when the server re-assigned its job. */
  reject(attemptId: number): void {
    this.tokens.delete(attemptId);
    this.send({ type: 'reject', attemptId, code: 'CONFLICT', message: 'the attempt was re-assigned' });
  }

  shutdown(reason: string): void {
    this.send({ type: 'shutdown', reason });
  }

  waitForResult(attemptId: number, deadlineMs = 15_000): Promise<JobResult> {
    return waitFor(`the result of attempt ${attemptId}`, () => this.results.get(attemptId), deadlineMs);
  }

  /** The stored log of an attempt, whole. */
  async log(attemptId: number): Promise<string> {
    let text = '';
    for (let offset = 0; ; ) {
      const read = await this.logs.read(keyOf(attemptId), { offset });
      text += read.text;
      if (read.nextOffset >= read.size) return text;
      offset = read.nextOffset;
    }
  }

  lastSeq(attemptId: number): Promise<number> {
    return this.logs.lastSeq(keyOf(attemptId));
  }

  /** Events of the attempt seen so far (kinds only), for tests that wait on one. */
  readonly kinds = new Map<number, string[]>();

  async close(): Promise<void> {
    for (const ws of this.wss.clients) ws.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
    await this.logs.close();
  }

  private accept(ws: WebSocket, authorization: string | undefined): void {
    if (authorization !== `Bearer ${this.agentToken}`) {
      ws.close(CloseCode.UNAUTHORIZED, 'unknown agent token');
      return;
    }
    this.connections += 1;
    ws.on('message', (data, isBinary) => {
      if (this.cut.has(ws)) return;
      if (isBinary) {
        const frame = data as Buffer;
        const events = decodeEventsFrame(frame);
        if (!events.ok) {
          this.errors.push(`bad frame: ${events.error}`);
          ws.close(CloseCode.BAD_MESSAGE, events.error.slice(0, 120));
          return;
        }
        const { attemptId, token } = events.message;
        const headerBytes = FRAME_HEADER_BYTES + Buffer.byteLength(token);
        this.store(ws, attemptId, token, events.message.events, frame.length - headerBytes).catch((error: unknown) => this.errors.push(String(error)));
        return;
      }
      const parsed = parseAgentMessage(String(data));
      if (!parsed.ok) {
        this.errors.push(`bad message: ${parsed.error}`);
        ws.close(CloseCode.BAD_MESSAGE, parsed.error);
        return;
      }
      this.receive(ws, parsed.message).catch((error: unknown) => this.errors.push(String(error)));
    });
    ws.on('close', () => {
      if (this.current === ws) this.current = null;
    });
  }

  private async receive(ws: WebSocket, message: AgentMessage): Promise<void> {
    switch (message.type) {
      case 'hello': {
        this.hellos.push(message);
        const resume = await Promise.all(
          message.running.map(async ({ attemptId }) => ({ attemptId, ackedSeq: await this.lastSeq(attemptId) })),
        );
        this.current = ws;
        this.slots = 0;
        send(ws, { type: 'welcome', agentId: 1, heartbeatMs: this.heartbeatMs, resume, cancel: [] });
        return;
      }
      case 'ready':
        if (ws === this.current) this.slots = message.slots;
        this.readies.push(message.slots);
        return;
      case 'bye':
        this.byes.push(message.reason);
        return;
      case 'heartbeat':
        this.heartbeats += 1;
        return;
    }
  }

  private async store(ws: WebSocket, attemptId: number, token: string, events: FrameEvent[], recordBytes: number): Promise<void> {
    if (this.tokens.get(attemptId) !== token) {
      send(ws, { type: 'reject', attemptId, code: 'CONFLICT', message: 'stale attempt token' });
      return;
    }
    this.eventsReceived += events.length;
    this.eventBytesReceived += recordBytes;
    const cutAt = this.cutAfterEvents[0];
    if (cutAt !== undefined && this.eventsReceived >= cutAt) {
      // Cut before storing: the agent must send this batch again.
      this.cutAfterEvents.shift();
      this.cuts += 1;
      this.cut.add(ws);
      ws.terminate();
      return;
    }
    const kinds = this.kinds.get(attemptId) ?? [];
    this.kinds.set(attemptId, kinds);
    for (const event of events) kinds.push(event.kind);
    const { ackedSeq } = await this.logs.append(keyOf(attemptId), events.map(toChunk));
    const finished = events.find((event) => event.kind === 'finished');
    if (finished !== undefined && finished.seq <= ackedSeq) this.results.set(attemptId, finished.result);
    const ack = () => {
      if (ws.readyState === ws.OPEN) send(ws, { type: 'ack', attemptId, seq: ackedSeq });
    };
    if (this.holdAcks) this.heldAcks.push(ack);
    else ack();
  }

  private serveFile(req: http.IncomingMessage, res: http.ServerResponse): void {
    const match = /^\/api\/v1\/attempts\/(\d+)\/(artifacts|caches)(?:\/([^/]+))?$/.exec(req.url ?? '');
    const reply = (status: number, body?: Buffer) => {
      this.fileRequests.push({ method: req.method ?? '', path: req.url ?? '', authorized, status });
      res.writeHead(status).end(body);
    };
    const attemptId = Number(match?.[1]);
    const authorized = match !== null && req.headers.authorization === `Bearer ${this.tokens.get(attemptId) ?? '-'}`;
    if (match === null) return reply(404);
    if (!authorized) return reply(401);
    const [, , kind, name] = match;
    const key = kind === 'caches' ? `cache/${decodeURIComponent(name ?? '')}` : `artifacts/${name ?? attemptId}`;
    if (req.method === 'GET') {
      const file = this.files.get(key);
      return file === undefined ? reply(404) : reply(200, file);
    }
    if (req.method !== 'PUT') return reply(405);
    const parts: Buffer[] = [];
    req.on('data', (part: Buffer) => parts.push(part));
    req.on('end', () => {
      this.files.set(key, Buffer.concat(parts));
      reply(204);
    });
  }

  private send(message: ServerMessage): void {
    if (this.current === null) throw new Error('no agent is connected');
    send(this.current, message);
  }
}

function send(ws: WebSocket, message: ServerMessage): void {
  ws.send(JSON.stringify(message));
}

function keyOf(attemptId: number) {
  return { jobId: attemptId, attempt: 1 };
}

/** State changes share the sequence with the output: the log store keeps them as empty data. */
function toChunk(event: FrameEvent): LogChunk {
  if (event.kind === 'started' || event.kind === 'finished') {
    return { seq: event.seq, kind: 'data', stream: 'system', data: '', atMs: event.atMs };
  }
  return event;
}
