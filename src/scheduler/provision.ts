import type { AgentTemplate, Offer } from '../engines/index.js';
import { orderJobs, projectGate, type PendingJob, type ProjectTable } from './jobs.js';
import { hasAll, labelSet } from './labels.js';

export type EngineAgentState = 'provisioning' | 'idle' | 'busy';

/** One engine as the provisioner sees it: what it can start, where, and what it runs. */
export type EngineState = {
  name: string;
  templates: readonly AgentTemplate[];
  /** Free room per host now; an engine with no offers launches nothing. */
  offers: readonly Offer[];
  /** The agents of this engine that are not being stopped. */
  agents: ReadonlyArray<{ template: string; state: EngineAgentState }>;
};

export type ProvisionInput = {
  /** The jobs matchJobs left without an agent. */
  unmatched: readonly PendingJob[];
  engines: readonly EngineState[];
  /** Jobs running per project, counting the ones matchJobs just assigned. */
  runningByProject: ProjectTable<number>;
  concurrencyLimit: ProjectTable<number | null>;
};

/** Start one agent of `template` on `engine`: for the jobs named, or for the warm pool (none). */
export type Launch = { engine: string; template: string; forJobIds: number[] };

type MutableOffer = { host: string; cpus: number; memoryMiB: number };

type Pool = {
  engine: string;
  template: AgentTemplate;
  labels: ReadonlySet<string>;
  /** Agents of the template in any state, plus those launched by this plan. */
  agents: number;
  idle: number;
  /** Provisioning agents not yet counted as the agent of a waiting job. */
  unclaimed: number;
  /** The engine's offers whose attributes satisfy the template's (shared between its pools). */
  offers: MutableOffer[];
};

/**
 * Decides which agents to start: first for waiting jobs (in job order; a job already
 * covered by an agent being provisioned gets none), then for each template's warm pool.
 * One launch is one agent, for at most one job. Offers and maxAgents are never exceeded.
 */
export function planProvisioning(input: ProvisionInput): Launch[] {
  const pools = poolsOf(input.engines);
  const launches: Launch[] = [];
  const projects = projectGate(input.runningByProject, input.concurrencyLimit);
  const seen = new Set<number>();
  for (const job of orderJobs(input.unmatched)) {
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    if (!projects.canStart(job.projectId)) continue;
    const serving = servingPools(pools, job);
    const coming = serving.find((pool) => pool.unclaimed > 0);
    if (coming !== undefined) {
      coming.unclaimed -= 1;
      projects.start(job.projectId);
      continue;
    }
    const pool = bestToLaunch(serving);
    if (pool === undefined) continue;
    launch(pool);
    launches.push({ engine: pool.engine, template: pool.template.name, forJobIds: [job.id] });
    projects.start(job.projectId);
  }
  // Warm pool, one agent per template per round: scarce offers are shared between templates.
  const missing = new Map(pools.map((pool) => [pool, pool.template.minIdle - pool.idle - pool.unclaimed]));
  for (let launched = true; launched; ) {
    launched = false;
    for (const pool of pools) {
      if ((missing.get(pool) ?? 0) <= 0 || room(pool) <= 0) continue;
      launch(pool);
      missing.set(pool, (missing.get(pool) ?? 0) - 1);
      launches.push({ engine: pool.engine, template: pool.template.name, forJobIds: [] });
      launched = true;
    }
  }
  return launches;
}

/** Pools in a fixed order (engine name, then template name), whatever the input order. */
function poolsOf(engines: readonly EngineState[]): Pool[] {
  const pools: Pool[] = [];
  for (const engine of [...engines].sort((a, b) => compareNames(a.name, b.name))) {
    const offers = engine.offers.map((offer) => ({ host: offer.host, cpus: offer.cpus, memoryMiB: offer.memoryMiB, attributes: offer.attributes }));
    for (const template of [...engine.templates].sort((a, b) => compareNames(a.name, b.name))) {
      const agents = engine.agents.filter((agent) => agent.template === template.name);
      pools.push({
        engine: engine.name,
        template,
        labels: labelSet(template.labels),
        agents: agents.length,
        idle: agents.filter((agent) => agent.state === 'idle').length,
        unclaimed: agents.filter((agent) => agent.state === 'provisioning').length,
        offers: offers.filter((offer) => Object.entries(template.attributes).every(([key, value]) => offer.attributes[key] === value)),
      });
    }
  }
  return pools;
}

/** Pools whose template can run the job (labels and resources), fewest extra labels first. */
function servingPools(pools: readonly Pool[], job: PendingJob): Pool[] {
  const need = labelSet(job.labels);
  return pools
    .filter((pool) => hasAll(pool.labels, need) && (job.cpus ?? 0) <= pool.template.cpus && (job.memoryMiB ?? 0) <= pool.template.memoryMiB)
    .sort((a, b) => a.labels.size - b.labels.size);
}

/** Among pools sorted by extra labels: the first with room, ties going to the most room. */
function bestToLaunch(serving: readonly Pool[]): Pool | undefined {
  let best: { pool: Pool; room: number } | undefined;
  for (const pool of serving) {
    if (best !== undefined && pool.labels.size > best.pool.labels.size) break;
    const free = room(pool);
    if (free > 0 && (best === undefined || free > best.room)) best = { pool, room: free };
  }
  return best?.pool;
}

/** How many more agents of the pool's template could start: offers and maxAgents allowing. */
function room(pool: Pool): number {
  const byOffers = pool.offers.reduce((sum, offer) => sum + copies(offer, pool.template), 0);
  return Math.min(byOffers, pool.template.maxAgents - pool.agents);
}

function copies(offer: MutableOffer, template: AgentTemplate): number {
  const byCpus = template.cpus > 0 ? Math.floor(offer.cpus / template.cpus + 1e-9) : Number.POSITIVE_INFINITY;
  const byMemory = template.memoryMiB > 0 ? Math.floor(offer.memoryMiB / template.memoryMiB + 1e-9) : Number.POSITIVE_INFINITY;
  return Math.max(0, Math.min(byCpus, byMemory));
}

/** Counts one more agent and takes its room from the offer with the most room for it. */
function launch(pool: Pool): void {
  let best: MutableOffer | undefined;
  for (const offer of pool.offers) {
    if (copies(offer, pool.template) > 0 && (best === undefined || copies(offer, pool.template) > copies(best, pool.template))) best = offer;
  }
  if (best === undefined) throw new Error('scheduler: launch() without room (room() must be checked first)');
  best.cpus -= pool.template.cpus;
  best.memoryMiB -= pool.template.memoryMiB;
  pool.agents += 1;
}

function compareNames(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
