import type { AgentTemplate, Engine } from '../../engines/index.js';
import type { EngineAgentState } from '../../scheduler/index.js';
import type { CapacitySample, CapacitySamples } from '../../store/index.js';
import type { AgentServer } from '../agents/index.js';
import type { Provisioner } from './manager.js';

/** One agent an engine runs for this server, as the manager sees it (Provisioner.agents). */
export type ProvisionedAgent = {
  name: string;
  engine: string;
  template: string;
  state: EngineAgentState;
  launchedAt: number;
  /** When the manager first saw it connected and ready; null while provisioning. */
  connectedAt: number | null;
  /** The image it was launched with in place of its template's (a job's); null: the template's own. */
  image: string | null;
};

export type FleetAgentState = EngineAgentState | 'unreachable';

/** An agent the server knows now: connected to it, or being provisioned by an engine. */
export type FleetAgent = {
  /** The store's agent id; null while an engine's agent has not connected. */
  agentId: number | null;
  name: string;
  /** null for agents started by hand. */
  engine: string | null;
  template: string | null;
  image: string | null;
  /** 'unreachable': an engine's agent that had connected and whose connection is gone. */
  state: FleetAgentState;
  /** When its current connection began; null while not connected. */
  connectedAt: number | null;
  /** What its template gives it (engines' agents only). */
  resources: { cpus: number; memoryMiB: number } | null;
};

export type TemplateCounts = Record<EngineAgentState, number>;

export type EngineView = {
  name: string;
  kind: Engine['kind'];
  templates: Array<AgentTemplate & { counts: TemplateCounts }>;
};

export type { CapacitySample } from '../../store/index.js';

export type Fleet = {
  agents(): FleetAgent[];
  engines(): EngineView[];
  /** Takes a sample now and stores it, dropping stored ones older than keepMs (the timer calls it every sampleIntervalMs). */
  sample(): Promise<CapacitySample>;
  /** Joins the engine manager once it has started; before, only connected agents are known. */
  attach(manager: { engines: readonly Engine[]; provisioner: Provisioner }): void;
  /** Stops the sampling timer and stops listening to the agent endpoint; resolves once a sample being stored is. Idempotent. */
  close(): Promise<void>;
};

// Every 15 s: a minute has four points, so a short burst of jobs still shows on the graph.
const SAMPLE_INTERVAL_MS = 15_000;
const KEEP_MS = 60 * 60_000;

export type FleetOptions = {
  agents: AgentServer;
  /** Where the capacity samples are kept (the store's), for keepMs. */
  samples: CapacitySamples;
  /** A sample the timer could not store. */
  onError: (error: unknown) => void;
  now?: () => number;
  sampleIntervalMs?: number;
  keepMs?: number;
};

/**
 * What the API's agent and engine views read: the agent endpoint's connections merged by
 * name with the engine manager's agents; and a capacity sample every sampleIntervalMs,
 * stored for keepMs so the graph outlives a restart.
 */
export function createFleet(options: FleetOptions): Fleet {
  const now = options.now ?? Date.now;
  const keepMs = options.keepMs ?? KEEP_MS;
  const connectedAt = new Map<number, number>();
  let manager: { engines: readonly Engine[]; provisioner: Provisioner } | null = null;
  const stopListening = options.agents.onAgentEvent((event) => {
    if (event.type === 'connected') connectedAt.set(event.agentId, now());
    else if (event.type === 'disconnected') connectedAt.delete(event.agentId);
  });

  function templateOf(engine: string, template: string): AgentTemplate | null {
    return manager?.engines.find((e) => e.name === engine)?.templates.find((t) => t.name === template) ?? null;
  }

  function agents(): FleetAgent[] {
    const managed = new Map((manager?.provisioner.agents() ?? []).map((agent) => [agent.name, agent]));
    const seen = new Set<string>();
    const list: FleetAgent[] = [];
    for (const connection of options.agents.agentStates()) {
      const engineAgent = managed.get(connection.name);
      seen.add(connection.name);
      const template = engineAgent === undefined ? null : templateOf(engineAgent.engine, engineAgent.template);
      list.push({
        agentId: connection.agentId,
        name: connection.name,
        engine: engineAgent?.engine ?? null,
        template: engineAgent?.template ?? null,
        image: engineAgent?.image ?? template?.image ?? null,
        // An engine's agent counts as provisioning until it says it has room (as the manager counts it).
        state: connection.busy ? 'busy' : !connection.ready && engineAgent !== undefined ? 'provisioning' : 'idle',
        connectedAt: connectedAt.get(connection.agentId) ?? null,
        resources: template === null ? null : { cpus: template.cpus, memoryMiB: template.memoryMiB },
      });
    }
    for (const agent of managed.values()) {
      if (seen.has(agent.name)) continue;
      const template = templateOf(agent.engine, agent.template);
      list.push({
        agentId: null,
        name: agent.name,
        engine: agent.engine,
        template: agent.template,
        image: agent.image ?? template?.image ?? null,
        state: agent.connectedAt === null ? 'provisioning' : 'unreachable',
        connectedAt: null,
        resources: template === null ? null : { cpus: template.cpus, memoryMiB: template.memoryMiB },
      });
    }
    return list;
  }

  function engines(): EngineView[] {
    const current = agents();
    return (manager?.engines ?? []).map((engine) => ({
      name: engine.name,
      kind: engine.kind,
      templates: engine.templates.map((template) => {
        const counts: TemplateCounts = { provisioning: 0, idle: 0, busy: 0 };
        for (const agent of current) if (agent.engine === engine.name && agent.template === template.name && agent.state !== 'unreachable') counts[agent.state] += 1;
        return { ...template, counts };
      }),
    }));
  }

  function take(): CapacitySample {
    const at = now();
    const taken: CapacitySample = { at, busy: 0, idle: 0, provisioning: 0, cpusInUse: 0, memoryMiBInUse: 0 };
    for (const agent of agents()) {
      if (agent.state !== 'unreachable') taken[agent.state] += 1;
      taken.cpusInUse += agent.resources?.cpus ?? 0;
      taken.memoryMiBInUse += agent.resources?.memoryMiB ?? 0;
    }
    // Template cpus are fractions (0.1): rounding keeps 0.30000000000000004 off the graph.
    taken.cpusInUse = Math.round(taken.cpusInUse * 1000) / 1000;
    return taken;
  }

  async function sample(): Promise<CapacitySample> {
    const taken = take();
    await options.samples.record(taken);
    await options.samples.prune(taken.at - keepMs);
    return taken;
  }

  let storing: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    if (storing !== null) return; // a slow database skips a sample rather than piling them up
    storing = sample()
      .catch(options.onError)
      .finally(() => (storing = null));
  }, options.sampleIntervalMs ?? SAMPLE_INTERVAL_MS);
  timer.unref();
  let closed = false;
  return {
    agents,
    engines,
    sample,
    attach(next) {
      manager = next;
    },
    async close() {
      if (!closed) {
        closed = true;
        clearInterval(timer);
        stopListening();
      }
      await storing;
    },
  };
}
