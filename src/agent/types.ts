import type { SourceMode } from './source.js';

/** A small structured logger: constant messages, ids and facts as fields. */
export type AgentLogger = {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
};

export type AgentOptions = {
  /** The server's base URL, http(s)://host[:port]; the agent connects to its WebSocket. */
  serverUrl: string;
  /** The agent token (never logged). */
  token: string;
  name: string;
  labels: string[];
  capacity: { cpus: number; memoryMiB: number; jobs: number };
  /** A directory the agent owns: builds/, git/ (mirrors), outbox/, tmp/. */
  workDir: string;
  /** Stop after this many jobs (0: no limit). */
  maxJobs: number;
  /** Abort for a graceful stop: no new job, running ones finish, then `bye`. */
  signal: AbortSignal;
  /**
   * Abort to stop now: no new job; running ones are ended (their processes killed as for
   * a cancel) and their output sent, but not their results, so the server counts them
   * lost; then `bye`. How an engine's stop ends an agent: nothing of its jobs may outlive it.
   */
  stopSignal?: AbortSignal;
  log: AgentLogger;
  /** The engine task this agent runs as (from the engine's environment), or null. */
  engine?: { name: string; taskId: string } | null;
  /** Reconnect backoff; full jitter between 0 and min(capMs, baseMs * 2^attempt). */
  reconnect?: { baseMs: number; capMs: number };
  /**
   * Event bytes sent and not yet acknowledged, at most (default 8 MiB); the server pauses
   * reading from an agent that has more than twice this unstored. Also the most a
   * reconnect sends again.
   */
  maxUnackedBytes?: number;
  /** How jobs get their source: git, the server's archive, or auto (git when it runs and reaches the repository); default auto. */
  source?: SourceMode;
  /** Passed to the executor: after SIGTERM to a job's processes, how long before SIGKILL. */
  killGraceMs?: number;
  /** The agent process's environment, from its entry point: git runs with it, jobs inherit a whitelist of it. */
  baseEnv: Readonly<Record<string, string | undefined>>;
};

/** A logger that drops everything. */
export const silentLogger: AgentLogger = {
  info: () => undefined,
  warn: () => undefined,
  error: () => undefined,
};
