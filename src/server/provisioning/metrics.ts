import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { EngineAgentState } from '../../scheduler/index.js';

export type ProvisioningMetrics = {
  readonly launches: Counter<'engine' | 'template' | 'result'>;
  readonly connectSeconds: Histogram<'engine' | 'template'>;
  readonly orphansRemoved: Counter<'engine'>;
  readonly leaksRemoved: Counter<'engine' | 'kind'>;
};

/** The manager's metrics; the agents gauge is read from the manager when scraped. */
export function createProvisioningMetrics(
  registry: Registry,
  agents: () => Iterable<{ engine: string; template: string; state: EngineAgentState }>,
): ProvisioningMetrics {
  new Gauge({
    name: 'slipway_engine_agents',
    help: 'Agents the engines run for this server, by engine, template and state (provisioning: launched, not yet ready)',
    labelNames: ['engine', 'template', 'state'],
    registers: [registry],
    collect() {
      this.reset();
      for (const agent of agents()) this.inc({ engine: agent.engine, template: agent.template, state: agent.state });
    },
  });
  return {
    launches: new Counter({ name: 'slipway_engine_launches_total', help: 'Agent launches asked of engines, by result (launched, failed)', labelNames: ['engine', 'template', 'result'], registers: [registry] }),
    connectSeconds: new Histogram({
      name: 'slipway_engine_launch_connect_seconds',
      help: 'From asking the engine to launch an agent to the agent connecting',
      labelNames: ['engine', 'template'],
      // A local agent connects in a few hundred ms; a container one on a cold host in tens of seconds.
      buckets: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
      registers: [registry],
    }),
    leaksRemoved: new Counter({
      name: 'slipway_engine_leaked_tasks_removed_total',
      help: 'Engine tasks removed because nothing of this server owned them any more: agents without a live launch, services of an attempt that ended (kind: agent, service)',
      labelNames: ['engine', 'kind'],
      registers: [registry],
    }),
    orphansRemoved: new Counter({ name: 'slipway_engine_orphans_removed_total', help: 'Engine tasks found running without a launch this server recorded, stopped at start-up', labelNames: ['engine'], registers: [registry] }),
  };
}
