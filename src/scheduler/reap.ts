import type { AgentTemplate } from '../engines/index.js';

export type ReapAgent = {
  id: number;
  engine: string;
  template: string;
  /** Running a job now. */
  busy: boolean;
  /** When its last job ended (or it connected); null: not idle yet (still starting). */
  idleSince: number | null;
  jobsRun: number;
  /** Launched with this image instead of its template's; null or absent: the template's own (only those count for minIdle). */
  image?: string | null;
  /** To be stopped as soon as it is not busy (its container ran a canceled or timed-out job). */
  retire?: boolean;
};

export type ReapInput = {
  /** Now, ms since the epoch. */
  now: number;
  agents: readonly ReapAgent[];
  engines: ReadonlyArray<{ name: string; templates: ReadonlyArray<Pick<AgentTemplate, 'name' | 'minIdle' | 'idleMinutes' | 'maxJobsPerAgent'>> }>;
};

export type Reap = { agentId: number; reason: 'idle' | 'max_jobs' | 'retired' };

type Policy = { minIdle: number; idleMs: number; maxJobsPerAgent: number };

// An agent whose template is no longer configured: nothing keeps it once idle.
const UNKNOWN_TEMPLATE: Policy = { minIdle: 0, idleMs: 0, maxJobsPerAgent: 0 };

/**
 * Which agents to stop. A busy agent is never stopped. An agent that has run
 * maxJobsPerAgent jobs (when > 0) is stopped as soon as it is not busy. An idle agent is
 * stopped once idle for idleMinutes, except the `minIdle` most recently idle agents of its
 * template in its own image, which stay as the warm pool (agents launched with a job's image
 * never do). An agent marked `retire` is stopped as soon as it is not busy. Results are
 * ordered by agent id.
 */
export function planReaping(input: ReapInput): Reap[] {
  const policies = new Map<string, Policy>();
  for (const engine of input.engines) {
    for (const t of engine.templates) {
      policies.set(templateKey(engine.name, t.name), { minIdle: t.minIdle, idleMs: t.idleMinutes * 60_000, maxJobsPerAgent: t.maxJobsPerAgent });
    }
  }
  const reaps: Reap[] = [];
  const idleByTemplate = new Map<string, ReapAgent[]>();
  for (const agent of input.agents) {
    if (agent.busy) continue;
    const key = templateKey(agent.engine, agent.template);
    const policy = policies.get(key) ?? UNKNOWN_TEMPLATE;
    if (agent.retire === true) {
      reaps.push({ agentId: agent.id, reason: 'retired' });
    } else if (policy.maxJobsPerAgent > 0 && agent.jobsRun >= policy.maxJobsPerAgent) {
      reaps.push({ agentId: agent.id, reason: 'max_jobs' });
    } else if (agent.idleSince !== null) {
      const poolKey = JSON.stringify([key, agent.image ?? null]);
      const idle = idleByTemplate.get(poolKey);
      if (idle === undefined) idleByTemplate.set(poolKey, [agent]);
      else idle.push(agent);
    }
  }
  for (const idle of idleByTemplate.values()) {
    const first = idle[0];
    if (first === undefined) continue;
    const policy = policies.get(templateKey(first.engine, first.template)) ?? UNKNOWN_TEMPLATE;
    const warm = (first.image ?? null) === null ? policy.minIdle : 0;
    const oldestFirst = idle.sort((a, b) => (a.idleSince ?? 0) - (b.idleSince ?? 0) || a.id - b.id);
    for (const agent of oldestFirst.slice(0, Math.max(0, oldestFirst.length - warm))) {
      if (input.now - (agent.idleSince ?? input.now) >= policy.idleMs) reaps.push({ agentId: agent.id, reason: 'idle' });
    }
  }
  return reaps.sort((a, b) => a.agentId - b.agentId);
}

function templateKey(engine: string, template: string): string {
  return JSON.stringify([engine, template]);
}
