import { fits, orderJobs, projectGate, type PendingJob, type ProjectTable } from './jobs.js';
import { imageAccepts, type AgentImage } from './images.js';
import { hasAll, labelKey, labelSet } from './labels.js';

/** A connected agent and what remains of its capacity after its running jobs. */
export type AgentSlot = {
  id: number;
  labels: readonly string[];
  freeSlots: number;
  freeCpus: number;
  freeMemoryMiB: number;
  /** The image the agent's container runs; null or absent: none (local or registered agent). */
  image?: string | null;
  /** Launched with a job's image instead of its template's: takes only jobs naming that image. */
  pinned?: boolean;
};

export type MatchInput = {
  pending: readonly PendingJob[];
  agents: readonly AgentSlot[];
  /** Jobs running now per project. */
  runningByProject: ProjectTable<number>;
  /** Most jobs running at once per project; missing or null: no limit. */
  concurrencyLimit: ProjectTable<number | null>;
  /** Whether jobs' images are honoured (some engine runs images; see images.ts). Default false: images are ignored. */
  images?: boolean;
};

export type Assignment = { jobId: number; agentId: number };

type Agent = { id: number; freeSlots: number; freeCpus: number; freeMemoryMiB: number; group: AgentGroup };

/** Agents with one label set and image; agents leave `agents` when their last slot is taken. */
type AgentGroup = { labels: ReadonlySet<string>; image: AgentImage; agents: Agent[] };

/** Where jobs with one label set may go, and the requests already found not to fit. */
type Candidates = {
  /** Groups that have all the labels, in tiers of equal extra labels, fewest extras first. */
  tiers: AgentGroup[][];
  /** Capacity only shrinks during a call: a request at least this large cannot fit either. */
  failed: Array<{ cpus: number; memoryMiB: number }>;
};

/**
 * Gives pending jobs to agents with room, in job order (see orderJobs). A job that fits
 * nowhere is skipped and later jobs still get their chance. Assignments come in the order
 * they were decided.
 */
export function matchJobs(input: MatchInput): Assignment[] {
  const images = input.images ?? false;
  const groups = groupAgents(input.agents, images);
  let freeSlots = groups.reduce((sum, group) => sum + group.agents.reduce((n, agent) => n + agent.freeSlots, 0), 0);
  const byLabels = new Map<string, Candidates>();
  const projects = projectGate(input.runningByProject, input.concurrencyLimit);
  const seen = new Set<number>();
  const assignments: Assignment[] = [];
  for (const job of orderJobs(input.pending)) {
    if (freeSlots === 0) break;
    if (seen.has(job.id)) continue;
    seen.add(job.id);
    if (!projects.canStart(job.projectId)) continue;
    const need = labelSet(job.labels);
    const image = images ? (job.image ?? null) : null;
    const key = JSON.stringify([labelKey(need), image]);
    let candidates = byLabels.get(key);
    if (candidates === undefined) {
      candidates = { tiers: tiersFor(need, image, groups), failed: [] };
      byLabels.set(key, candidates);
    }
    const cpus = job.cpus ?? 0;
    const memoryMiB = job.memoryMiB ?? 0;
    if (candidates.failed.some((f) => f.cpus <= cpus && f.memoryMiB <= memoryMiB)) continue;
    const agent = pick(candidates.tiers, cpus, memoryMiB);
    if (agent === undefined) {
      candidates.failed.push({ cpus, memoryMiB });
      continue;
    }
    take(agent, cpus, memoryMiB);
    freeSlots -= 1;
    projects.start(job.projectId);
    assignments.push({ jobId: job.id, agentId: agent.id });
  }
  return assignments;
}

function groupAgents(slots: readonly AgentSlot[], images: boolean): AgentGroup[] {
  const groups = new Map<string, AgentGroup>();
  const ids = new Set<number>();
  for (const slot of slots) {
    if (ids.has(slot.id)) continue;
    ids.add(slot.id);
    const freeSlots = Math.floor(slot.freeSlots);
    if (!(freeSlots > 0)) continue;
    const labels = labelSet(slot.labels);
    // Images ignored: every agent takes every job as far as images go.
    const image: AgentImage = images ? { image: slot.image ?? null, pinned: slot.pinned ?? false } : { image: null, pinned: false };
    const key = JSON.stringify([labelKey(labels), image.image, image.pinned]);
    let group = groups.get(key);
    if (group === undefined) {
      group = { labels, image, agents: [] };
      groups.set(key, group);
    }
    group.agents.push({ id: slot.id, freeSlots, freeCpus: slot.freeCpus, freeMemoryMiB: slot.freeMemoryMiB, group });
  }
  return [...groups.values()];
}

function tiersFor(need: ReadonlySet<string>, image: string | null, groups: readonly AgentGroup[]): AgentGroup[][] {
  const byExtra = new Map<number, AgentGroup[]>();
  for (const group of groups) {
    if (!hasAll(group.labels, need) || !imageAccepts(group.image, image)) continue;
    const extra = group.labels.size - need.size;
    const tier = byExtra.get(extra);
    if (tier === undefined) byExtra.set(extra, [group]);
    else tier.push(group);
  }
  return [...byExtra.entries()].sort(([a], [b]) => a - b).map(([, tier]) => tier);
}

/** The agent for a request: fewest extra labels, then most free slots, then lowest id. */
function pick(tiers: readonly AgentGroup[][], cpus: number, memoryMiB: number): Agent | undefined {
  for (const tier of tiers) {
    let best: Agent | undefined;
    for (const group of tier) {
      for (const agent of group.agents) {
        if (!fits(cpus, agent.freeCpus) || !fits(memoryMiB, agent.freeMemoryMiB)) continue;
        if (best === undefined || agent.freeSlots > best.freeSlots || (agent.freeSlots === best.freeSlots && agent.id < best.id)) best = agent;
      }
    }
    if (best !== undefined) return best;
  }
  return undefined;
}

function take(agent: Agent, cpus: number, memoryMiB: number): void {
  agent.freeSlots -= 1;
  agent.freeCpus -= cpus;
  agent.freeMemoryMiB -= memoryMiB;
  if (agent.freeSlots === 0) agent.group.agents = agent.group.agents.filter((other) => other !== agent);
}
