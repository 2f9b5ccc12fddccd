import WebSocket from 'ws';
import type { ServerMessage } from '../../protocol/index.js';

/** One agent's live WebSocket, after its `hello`. */
export type Connection = {
  readonly ws: WebSocket;
  readonly agentId: number;
  readonly name: string;
  readonly labels: readonly string[];
  readonly capacity: { cpus: number; memoryMiB: number; jobs: number };
  /** What the agent last said in `ready`, less what was given to it since. */
  freeSlots: number;
  /** Attempts given to (or resumed on) this agent and not ended, with what they hold. */
  readonly active: Map<number, { cpus: number; memoryMiB: number }>;
  /** Cut by the server: frames still buffered on it are ignored. */
  cut: boolean;
};

export function send(connection: Connection, message: ServerMessage): void {
  if (!connection.cut && connection.ws.readyState === WebSocket.OPEN) connection.ws.send(JSON.stringify(message));
}

/** Closes the socket and ignores anything it still delivers. */
export function cut(connection: Connection, code: number, reason: string): void {
  connection.cut = true;
  if (connection.ws.readyState === WebSocket.OPEN || connection.ws.readyState === WebSocket.CONNECTING) connection.ws.close(code, reason);
}
