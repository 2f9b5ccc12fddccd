import { Counter, Gauge, type Registry } from 'prom-client';
import type { AgentStatus, Store } from '../../store/index.js';

export type AgentMetrics = {
  readonly attemptsAssigned: Counter;
  readonly logBytes: Counter;
};

const statuses: readonly AgentStatus[] = ['online', 'unreachable', 'lost', 'offline'];

/** The endpoint's metrics, on the app's registry; the agents gauge is read from the store when scraped. */
export function createAgentMetrics(registry: Registry, store: Store): AgentMetrics {
  new Gauge({
    name: 'slipway_agents',
    help: 'Agents known to the server, by status',
    labelNames: ['status'],
    registers: [registry],
    async collect() {
      for (const status of statuses) {
        let count = 0;
        for (let cursor: string | null | undefined = undefined; ; ) {
          const page = await store.agents.list({ status, limit: 500, ...(cursor === undefined || cursor === null ? {} : { cursor }) });
          count += page.items.length;
          cursor = page.nextCursor;
          if (cursor === null) break;
        }
        this.set({ status }, count);
      }
    },
  });
  return {
    attemptsAssigned: new Counter({ name: 'slipway_attempts_assigned_total', help: 'Job attempts handed to agents', registers: [registry] }),
    logBytes: new Counter({ name: 'slipway_log_bytes_ingested_total', help: 'Bytes of job output stored from agents (UTF-16 code units of new chunks)', registers: [registry] }),
  };
}
