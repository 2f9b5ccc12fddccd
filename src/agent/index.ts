/**
 * The agent: runs inside a build container (or by hand), connects to the server over
 * one WebSocket, takes jobs and runs them with the execution core, and delivers every
 * event of every attempt exactly once through an on-disk outbox (docs/agent.md).
 *
 * It shares only src/protocol (and the executor and pipeline types) with the server,
 * and is bundled into one file: Node built-ins and bundled libraries only.
 */
import { Agent } from './agent.js';
import type { AgentOptions } from './types.js';

export type { AgentLogger, AgentOptions } from './types.js';
export { silentLogger } from './types.js';
export type { SourceMode } from './source.js';

/**
 * Runs an agent until it stops: resolves after a graceful stop (options.signal aborted,
 * the server's `shutdown`, or maxJobs reached: running jobs finish and are delivered,
 * then `bye`); rejects with a SlipwayError when the server refuses it (AGENT_UNAUTHORIZED
 * for a bad token, CONFIG_INVALID for an unsupported protocol or a name taken by
 * another agent), after stopping its jobs. Connection losses are retried, never thrown.
 */
export function runAgent(options: AgentOptions): Promise<void> {
  return new Agent(options).run();
}
