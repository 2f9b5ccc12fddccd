import { z } from 'zod';
import type { Agent, RunningJob } from '../../../store/index.js';
import type { Fleet } from '../../provisioning/index.js';
import { defineRoute, type AnyRoute } from '../route.js';

const agentState = z.enum(['provisioning', 'idle', 'busy', 'unreachable']);

const agentView = z.object({
  id: z.number().int().nullable().describe("the agent's id; null while an engine's agent has not connected"),
  name: z.string(),
  engine: z.string().nullable().describe('null: started by hand'),
  template: z.string().nullable(),
  image: z.string().nullable(),
  state: agentState,
  labels: z.array(z.string()),
  capacity: z.object({ cpus: z.number(), memoryMiB: z.number().int() }),
  version: z.string().nullable().describe("the agent's Slipway version; null before it connects"),
  connectedAt: z.number().int().nullable().describe('when its connection began; null while not connected'),
  jobs: z.array(z.object({ jobId: z.number().int(), jobName: z.string(), buildId: z.number().int(), buildNumber: z.number().int(), project: z.string() })),
});

const counts = z.object({ provisioning: z.number().int(), idle: z.number().int(), busy: z.number().int() });

const engineView = z.object({
  name: z.string(),
  kind: z.string(),
  templates: z.array(
    z.object({
      name: z.string(),
      labels: z.array(z.string()),
      image: z.string().nullable(),
      cpus: z.number(),
      memoryMiB: z.number().int(),
      maxAgents: z.number().int(),
      minIdle: z.number().int(),
      idleMinutes: z.number(),
      maxJobsPerAgent: z.number().int(),
      counts,
    }),
  ),
});

type AgentCounts = { engine: string | null; template: string | null; provisioning: number; idle: number; busy: number; unreachable: number };

/** Agents per engine and template (every template, with zeros), then the hand-started ones when there are any. */
export function fleetCounts(fleet: Fleet): AgentCounts[] {
  const rows = new Map<string, AgentCounts>();
  const key = (engine: string | null, template: string | null) => JSON.stringify([engine, template]);
  for (const engine of fleet.engines()) {
    for (const template of engine.templates) rows.set(key(engine.name, template.name), { engine: engine.name, template: template.name, provisioning: 0, idle: 0, busy: 0, unreachable: 0 });
  }
  for (const agent of fleet.agents()) {
    const at = key(agent.engine, agent.template);
    const row = rows.get(at) ?? { engine: agent.engine, template: agent.template, provisioning: 0, idle: 0, busy: 0, unreachable: 0 };
    row[agent.state] += 1;
    rows.set(at, row);
  }
  return [...rows.values()];
}

export const agentRoutes: AnyRoute[] = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/agents',
    summary: 'Every agent the server knows now: connected ones and the ones engines are provisioning, with the jobs they run',
    scope: 'read',
    response: z.object({ items: z.array(agentView) }),
    handler: async (ctx) => {
      const fleet = ctx.fleet();
      if (fleet === null) return { items: [] };
      const live = fleet.agents();
      const jobsOf = new Map<number, RunningJob[]>();
      for (const job of await ctx.store.stats.runningJobs()) jobsOf.set(job.agentId, [...(jobsOf.get(job.agentId) ?? []), job]);
      const templates = new Map(fleet.engines().flatMap((engine) => engine.templates.map((template) => [`${engine.name}/${template.name}`, template] as const)));
      const items = [];
      for (const agent of live) {
        const stored: Agent | null = agent.agentId === null ? null : await ctx.store.agents.get(agent.agentId);
        const template = agent.engine === null || agent.template === null ? undefined : templates.get(`${agent.engine}/${agent.template}`);
        items.push({
          id: agent.agentId,
          name: agent.name,
          engine: agent.engine ?? stored?.engine ?? null,
          template: agent.template,
          image: agent.image,
          // The endpoint keeps an unreachable agent's connection (it may come back): the store knows it is silent.
          state: stored?.status === 'unreachable' ? ('unreachable' as const) : agent.state,
          labels: stored?.labels ?? template?.labels ?? [],
          capacity: stored?.capacity ?? agent.resources ?? { cpus: 0, memoryMiB: 0 },
          version: stored?.version ?? null,
          connectedAt: agent.connectedAt,
          jobs: (agent.agentId === null ? [] : (jobsOf.get(agent.agentId) ?? [])).map(({ agentId: _agentId, ...job }) => job),
        });
      }
      items.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
      return { items };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/engines',
    summary: "The engines, their templates, and how many of each template's agents are provisioning, idle and busy",
    scope: 'read',
    response: z.object({ items: z.array(engineView) }),
    handler: async (ctx) => ({ items: ctx.fleet()?.engines() ?? [] }),
  }),
];
