/**
 * Labels on everything the engine creates: list(), the event stream and a restarted
 * server find the engine's containers by them, never by memory.
 */
export const LABEL = {
  server: 'slipway.server',
  engine: 'slipway.engine',
  agent: 'slipway.agent',
  template: 'slipway.template',
  /** agent | service | runtime */
  kind: 'slipway.kind',
  /** The job attempt a service belongs to. */
  attempt: 'slipway.attempt',
  runtime: 'slipway.runtime',
} as const;

/** Docker label filters for this server's containers of one engine (and more: key=value). */
export function labelFilter(serverId: string, engineName: string, ...more: string[]): string[] {
  return [`${LABEL.server}=${serverId}`, `${LABEL.engine}=${engineName}`, ...more];
}
