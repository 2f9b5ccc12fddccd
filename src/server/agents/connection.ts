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
  /** Told of each assignment sent on this connection: the server gets ready for its events meanwhile. */
  readonly assigned?: (attemptId: number, token: string) => void;
};

export function send(connection: Connection, message: ServerMessage): void {
  if (connection.cut || connection.ws.readyState !== WebSocket.OPEN) return;
  connection.ws.send(JSON.stringify(message));
  if (message.type === 'assign') connection.assigned?.(message.attemptId, message.token);
}

/** Closes the socket and ignores anything it still delivers. */
export function cut(connection: Connection, code: number, reason: string): void {
  connection.cut = true;
  if (connection.ws.readyState === WebSocket.OPEN || connection.ws.readyState === WebSocket.CONNECTING) connection.ws.close(code, reason);
}
