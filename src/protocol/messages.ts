import { z } from 'zod';
import type { JobSpec } from '../pipeline/index.js';

/**
 * The agent protocol, version 2 (docs/protocol.md): JSON text frames over one WebSocket,
 * each message an object with a `type`, and binary frames for the events of an attempt
 * (frames.ts). Both sides parse what they receive with these schemas; unknown fields are
 * ignored so that a version can grow without a bump.
 */
export const PROTOCOL_VERSION = 2;
/** The WebSocket subprotocol an agent asks for. */
export const SUBPROTOCOL = 'slipway.v2';
/**
 * Subprotocols the server accepts: its own, and older ones only so that their agents
 * hear why they are turned away (a close with UNSUPPORTED_PROTOCOL after `hello`)
 * rather than a failed handshake.
 */
export const ACCEPTED_SUBPROTOCOLS: readonly string[] = [SUBPROTOCOL, 'slipway.v1'];

/** WebSocket close codes the server uses. */
export const CloseCode = {
  /** The agent token is unknown or revoked. */
  UNAUTHORIZED: 4401,
  /** The agent speaks a protocol version the server does not. */
  UNSUPPORTED_PROTOCOL: 4400,
  /** A message did not parse; the reason names it. */
  BAD_MESSAGE: 4402,
  /** Another connection took over this agent's name. */
  REPLACED: 4409,
  /** The server is shutting down; reconnect later. */
  GOING_AWAY: 1001,
} as const;

/**
 * The output streams and log sections; a binary frame (frames.ts) codes each by its place
 * in these lists, so the order is part of the protocol: new names go at the end.
 */
export const OUTPUT_STREAMS = ['stdout', 'stderr', 'system'] as const;
export const SECTION_NAMES = [
  'prepare',
  'artifacts_download',
  'cache_restore',
  'before_script',
  'script',
  'after_script',
  'cache_save',
  'artifacts_upload',
] as const;

const sectionName = z.enum(SECTION_NAMES);
const seq = z.number().int().positive();
const atMs = z.number().nonnegative();

const failureReason = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('script_failure'), exitCode: z.number().int(), message: z.string() }),
  z.object({ kind: z.literal('timeout'), message: z.string() }),
  z.object({ kind: z.literal('canceled'), message: z.string() }),
  z.object({ kind: z.literal('system_failure'), message: z.string() }),
]);

export const jobResultSchema = z.object({
  status: z.enum(['success', 'failed', 'canceled']),
  failure: failureReason.nullable(),
  exitCode: z.number().int().nullable(),
  durationMs: z.number().nonnegative(),
  artifacts: z.object({ archive: z.string(), files: z.number().int(), sizeBytes: z.number().int() }).nullable(),
});

/** One event of a job attempt: an output chunk, or a change of the attempt's state (sent in binary frames, frames.ts). */
export const attemptEventSchema = z.discriminatedUnion('kind', [
  z.object({ seq, kind: z.literal('data'), stream: z.enum(OUTPUT_STREAMS), data: z.string(), atMs }),
  z.object({ seq, kind: z.literal('section_start'), section: sectionName, atMs }),
  z.object({ seq, kind: z.literal('section_end'), section: sectionName, atMs, durationMs: z.number().nonnegative() }),
  z.object({ seq, kind: z.literal('started'), atMs }),
  z.object({ seq, kind: z.literal('finished'), atMs, result: jobResultSchema }),
]);
export type AttemptEvent = z.infer<typeof attemptEventSchema>;

const capacity = z.object({
  cpus: z.number().positive(),
  memoryMiB: z.number().int().positive(),
  /** How many jobs the agent runs at once. */
  jobs: z.number().int().positive(),
});

export const agentMessageSchema = z.discriminatedUnion('type', [
  z.object({
    type: z.literal('hello'),
    protocol: z.number().int(),
    name: z.string().min(1).max(200),
    version: z.string(),
    labels: z.array(z.string()),
    capacity,
    engine: z.object({ name: z.string(), taskId: z.string() }).nullable(),
    running: z.array(z.object({ attemptId: z.number().int(), lastSeq: z.number().int().nonnegative() })),
  }),
  z.object({ type: z.literal('heartbeat'), atMs: z.number() }),
  z.object({ type: z.literal('ready'), slots: z.number().int().nonnegative() }),
  z.object({ type: z.literal('bye'), reason: z.string() }),
]);
export type AgentMessage = z.infer<typeof agentMessageSchema>;

/** What an agent needs to run one job attempt. */
export type Assignment = {
  type: 'assign';
  attemptId: number;
  /** The attempt's fencing token: every write about the attempt carries it. */
  token: string;
  job: JobSpec;
  variables: Record<string, string>;
  /**
   * The commit to run. `archiveUrl` (GET with the attempt token) serves a tar of its
   * tree, for agents without git or that cannot reach the repository; an older server
   * leaves it out.
   */
  source: { repository: string; commit: string; subdirectory: string; archiveUrl?: string };
  /** Artifact archives to place before the job, by the job that made them. */
  artifacts: Array<{ job: string; url: string }>;
  /** Base URL of the project's caches: GET/PUT `${cacheUrl}/${encodeURIComponent(key)}`. */
  cacheUrl: string;
  /** Where to PUT this attempt's artifact archive. */
  artifactsUploadUrl: string;
  /** Secret values to replace with [MASKED] in the output. */
  masked: string[];
};

export type ServerMessage =
  | {
      type: 'welcome';
      agentId: number;
      heartbeatMs: number;
      resume: Array<{ attemptId: number; ackedSeq: number }>;
      cancel: number[];
    }
  | Assignment
  | { type: 'ack'; attemptId: number; seq: number }
  | { type: 'cancel'; attemptId: number; reason: string }
  | { type: 'reject'; attemptId: number; code: string; message: string }
  | { type: 'shutdown'; reason: string };

const serverMessageSchema = z
  .object({ type: z.enum(['welcome', 'assign', 'ack', 'cancel', 'reject', 'shutdown']) })
  .passthrough();

/** A parse outcome: the message, or why the frame is not one (never an exception). */
export type Parsed<T> = { ok: true; message: T } | { ok: false; error: string };

export function parseAgentMessage(frame: string): Parsed<AgentMessage> {
  return parseFrame(frame, agentMessageSchema);
}

/** The agent trusts the server it was pointed at; it checks only the message's type. */
export function parseServerMessage(frame: string): Parsed<ServerMessage> {
  const parsed = parseFrame(frame, serverMessageSchema);
  return parsed.ok ? { ok: true, message: parsed.message as unknown as ServerMessage } : parsed;
}

function parseFrame<T>(frame: string, schema: z.ZodType<T>): Parsed<T> {
  let value: unknown;
  try {
    value = JSON.parse(frame);
  } catch (error) {
    return { ok: false, error: `not JSON: ${(error as Error).message}` };
  }
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, message: result.data };
  const issue = result.error.issues[0];
  return { ok: false, error: `${issue?.path.join('.') || 'message'}: ${issue?.message ?? 'invalid'}` };
}
