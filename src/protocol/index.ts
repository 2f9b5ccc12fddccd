/**
 * What the agent and the server share: the shape of a job's output as the execution
 * core produces it, the agent streams it and the log store keeps it. The whole message
 * set of the agent protocol (docs/protocol.md) joins it here.
 */

import type { OUTPUT_STREAMS, SECTION_NAMES } from './messages.js';

export type OutputStream = (typeof OUTPUT_STREAMS)[number];

/** The sections of a job's log, one per phase; the UI folds them. */
export type SectionName = (typeof SECTION_NAMES)[number];

/**
 * One piece of a job attempt's output. `seq` counts from 1 per attempt with no gaps;
 * `atMs` is milliseconds since the attempt started, on the clock of whoever ran it.
 */
export type OutputChunk =
  | { seq: number; kind: 'data'; stream: OutputStream; data: string; atMs: number }
  | { seq: number; kind: 'section_start'; section: SectionName; atMs: number }
  | { seq: number; kind: 'section_end'; section: SectionName; atMs: number; durationMs: number };

export {
  PROTOCOL_VERSION,
  SUBPROTOCOL,
  ACCEPTED_SUBPROTOCOLS,
  CloseCode,
  agentMessageSchema,
  attemptEventSchema,
  jobResultSchema,
  parseAgentMessage,
  parseServerMessage,
  type AgentMessage,
  type AttemptEvent,
  type Assignment,
  type ServerMessage,
  type Parsed,
} from './messages.js';
export {
  FRAME_HEADER_BYTES,
  RECORD_HEADER_BYTES,
  decodeEventsFrame,
  encodeEventsFrame,
  encodeFrameHeader,
  encodeRecord,
  recordLength,
  recordSeq,
  type EventsFrame,
  type FrameEvent,
} from './frames.js';
