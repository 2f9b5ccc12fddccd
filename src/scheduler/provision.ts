import type { AgentTemplate, Offer } from '../engines/index.js';
import { orderJobs, projectGate, type PendingJob, type ProjectTable } from './jobs.js';
import { launchImage, runsImages } from './images.js';
import { hasAll, labelSet } from './labels.js';

export type EngineAgentState = 'provisioning' | 'idle' | 'busy';

/** One engine as the provisioner sees it: what it can start, where, and what it runs. */
export type EngineState = {
  name: string;
  templates: readonly AgentTemplate[];
  /** The template for jobs that name an image no template serves (the job's image replaces its own); null or absent: none. */
  imageTemplate?: AgentTemplate | null;
  /** Free room per host now; an engine with no offers launches nothing. */
  offers: readonly Offer[];
  /**
   * The agents of this engine that are not being stopped; `image` is the image an agent was
   * launched with instead of its template's (null or absent: the template's own).
   */
  agents: ReadonlyArray<{ template: string; state: EngineAgentState; image?: string | null }>;
};

export type ProvisionInput = {
  /** The jobs matchJobs left without an agent. */
  unmatched: readonly PendingJob[];
  engines: readonly EngineState[];
  /** Jobs running per project, counting the ones matchJobs just assigned. */
  runningByProject: ProjectTable<number>;
  concurrencyLimit: ProjectTable<number | null>;
};

/**
 * Start one agent of `template` on `engine`: for the jobs named, or for the warm pool (none),
 * in `image` instead of the template's own (null: the template's own).
 */
export type Launch = { engine: string; template: string; forJobIds: number[]; image: string | null };

type MutableOffer = { host: string; cpus: number; memoryMiB: number };

/** Agents of one template in one image (null: the template's own). */
type ImagePool = {
  idle: number;
  /** Provisioning agents not yet counted as the agent of a waiting job. */
  unclaimed: number;
};

type Pool = {
  engine: string;
  template: AgentTemplate;
  labels: ReadonlySet<string>;
  /** The engine's image template: serves jobs naming an image no template serves. */
  forImages: boolean;
  /** Agents of the template in any state and image, plus those launched by this plan: maxAgents counts them all. */
  agents: number;
  images: Map<string | null, ImagePool>;
  /** The engine's offers whose attributes satisfy the template's (shared between its pools). */
  offers: MutableOffer[];
};

/** Where a job could run: a pool, in an image. */
type Candidate = { pool: Pool; image: string | null };

/**
 * Decides which agents to start: first for waiting jobs (in job order; a job already
 * covered by an agent being provisioned gets none), then for each template's warm pool.
 * One launch is one agent, for at most one job. Offers and maxAgents are never exceeded.
 * Images (see images.ts): when some engine runs images, a job naming one is launched in a
 * template serving its labels with that image (the template's own or replacing it), or in
 * an engine's image template (no labels) when that has fewer extra labels than any such
 * template; pools are per engine, template and image, maxAgents per template.
 */
export function planProvisioning(input: ProvisionInput): Launch[] {
  const pools = poolsOf(input.engines);
  const images = runsImages(input.engines);
  const launches: Launch[] = [];
  const projects = projectGate(input.runningByProject, input.concurrencyLimit);
  const seen = new Set<number>();
  for (const job of orderJobs(input.unmatched)) {
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    if (!projects.canStart(job.projectId)) continue;
    const serving = candidatesFor(pools, job, images ? (job.image ?? null) : null, images);
    const coming = serving.find((candidate) => imagePool(candidate).unclaimed > 0);
    if (coming !== undefined) {
      imagePool(coming).unclaimed -= 1;
      projects.start(job.projectId);
      continue;
    }
    const best = bestToLaunch(serving);
    if (best === undefined) continue;
    launch(best.pool);
    launches.push({ engine: best.pool.engine, template: best.pool.template.name, forJobIds: [job.id], image: best.image });
    projects.start(job.projectId);
  }
  // Warm pool, one agent per template per round: scarce offers are shared between templates.
  const warm = pools.filter((pool) => !pool.forImages);
  const missing = new Map(warm.map((pool) => [pool, pool.template.minIdle - imagePool({ pool, image: null }).idle - imagePool({ pool, image: null }).unclaimed]));
  for (let launched = true; launched; ) {
    launched = false;
    for (const pool of warm) {
      if ((missing.get(pool) ?? 0) <= 0 || room(pool) <= 0) continue;
      launch(pool);
      missing.set(pool, (missing.get(pool) ?? 0) - 1);
      launches.push({ engine: pool.engine, template: pool.template.name, forJobIds: [], image: null });
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
    const templates = [...engine.templates].sort((a, b) => compareNames(a.name, b.name)).map((template) => ({ template, forImages: false }));
    const imageTemplate = engine.imageTemplate ?? null;
    if (imageTemplate !== null) templates.push({ template: imageTemplate, forImages: true });
    for (const { template, forImages } of templates) {
      const agents = engine.agents.filter((agent) => agent.template === template.name);
      const images = new Map<string | null, ImagePool>();
      for (const agent of agents) {
        const key = agent.image ?? null;
        const pool = images.get(key) ?? { idle: 0, unclaimed: 0 };
        if (agent.state === 'idle') pool.idle += 1;
        if (agent.state === 'provisioning') pool.unclaimed += 1;
        images.set(key, pool);
      }
      pools.push({
        engine: engine.name,
        template,
        labels: labelSet(template.labels),
        forImages,
        agents: agents.length,
        images,
        offers: offers.filter((offer) => Object.entries(template.attributes).every(([key, value]) => offer.attributes[key] === value)),
      });
    }
  }
  return pools;
}

function imagePool(candidate: Candidate): ImagePool {
  let pool = candidate.pool.images.get(candidate.image);
  if (pool === undefined) {
    pool = { idle: 0, unclaimed: 0 };
    candidate.pool.images.set(candidate.image, pool);
  }
  return pool;
}

/**
 * Where the job could run (labels, resources, image): fewest extra labels first, and
 * among equals the templates before the image templates, which serve jobs naming an image.
 */
function candidatesFor(pools: readonly Pool[], job: PendingJob, jobImage: string | null, images: boolean): Candidate[] {
  const need = labelSet(job.labels);
  const candidates: Candidate[] = [];
  for (const pool of pools) {
    if (!hasAll(pool.labels, need) || (job.cpus ?? 0) > pool.template.cpus || (job.memoryMiB ?? 0) > pool.template.memoryMiB) continue;
    if (pool.forImages) {
      if (jobImage !== null) candidates.push({ pool, image: jobImage });
      continue;
    }
    const image = images ? launchImage(pool.template.image, jobImage) : null;
    if (image !== undefined) candidates.push({ pool, image });
  }
  return candidates.sort((a, b) => rank(a.pool) - rank(b.pool));
}

/** Extra labels first, then templates before image templates. */
function rank(pool: Pool): number {
  return pool.labels.size * 2 + (pool.forImages ? 1 : 0);
}

/** Among candidates sorted by extra labels: the first with room, ties going to the most room. */
function bestToLaunch(serving: readonly Candidate[]): Candidate | undefined {
  let best: { candidate: Candidate; room: number } | undefined;
  for (const candidate of serving) {
    if (best !== undefined && rank(candidate.pool) > rank(best.candidate.pool)) break;
    const free = room(candidate.pool);
    if (free > 0 && (best === undefined || free > best.room)) best = { candidate, room: free };
  }
  return best?.candidate;
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
