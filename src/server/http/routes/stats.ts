import { z } from 'zod';
import type { Build } from '../../../store/index.js';
import { defineRoute, type AnyRoute, type RouteContext } from '../route.js';
import { branchName, buildStatus, buildView, page, pageQuery, projectName } from '../schemas.js';
import { toBuildView } from './builds.js';
import { fleetCounts } from './agents.js';
import { projectByName } from './projects.js';

const HOUR_MS = 60 * 60_000;

const recentBuild = buildView.extend({
  durationMs: z.number().int().nullable().describe('finishedAt - startedAt; for a running build, the time since it started; null before it starts'),
});

const capacitySample = z.object({
  at: z.number().int().describe('milliseconds since the epoch'),
  busy: z.number().int(),
  idle: z.number().int(),
  provisioning: z.number().int(),
  cpusInUse: z.number().describe("the cpus the engines' agents hold (their templates'), whatever their state"),
  memoryMiBInUse: z.number().int(),
});

const stats = z.object({
  queue: z.object({
    length: z.number().int().describe('jobs pending now'),
    oldestWaitMs: z.number().int().nullable().describe('how long the longest-waiting pending job has waited; null when none waits'),
    waitP50Ms: z.number().int().nullable().describe('median queue wait of the jobs started in the last hour; null when none started'),
    waitP90Ms: z.number().int().nullable(),
    startedLastHour: z.number().int().describe('the jobs the percentiles are over'),
  }),
  agents: z.array(
    z.object({
      engine: z.string().nullable().describe('null: agents started by hand'),
      template: z.string().nullable(),
      provisioning: z.number().int(),
      idle: z.number().int(),
      busy: z.number().int(),
      unreachable: z.number().int(),
    }),
  ),
  capacity: z.array(capacitySample).describe('a sample every 15 s over the last hour, oldest first (stored: a restart of the server leaves a gap, not an empty graph)'),
});

/** The value below which a share q of the sorted values lie (nearest rank). */
export function percentile(sorted: readonly number[], q: number): number | null {
  if (sorted.length === 0) return null;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? null;
}

async function projectNames(ctx: RouteContext, builds: readonly Build[]): Promise<Map<number, string>> {
  const names = new Map<number, string>();
  for (const projectId of new Set(builds.map((build) => build.projectId))) names.set(projectId, (await ctx.store.projects.getOrThrow(projectId)).name);
  return names;
}

/** Reads across projects and agents, for dashboards: recent builds, and the queue and fleet at a glance. */
export const statsRoutes: AnyRoute[] = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/builds',
    summary: 'List recent builds of every project, newest first, a page at a time',
    scope: 'read',
    query: pageQuery.extend({ project: projectName.optional(), status: buildStatus.optional(), ref: branchName.optional() }),
    response: page(recentBuild),
    handler: async (ctx, { query }) => {
      const { project, ...filter } = query;
      const projectId = project === undefined ? undefined : (await projectByName(ctx.store, project)).id;
      const found = await ctx.store.builds.list({ ...filter, ...(projectId === undefined ? {} : { projectId }) });
      const names = await projectNames(ctx, found.items);
      const at = ctx.now();
      return {
        items: found.items.map((build) => ({
          ...toBuildView(ctx.config, build, names.get(build.projectId) ?? ''),
          durationMs: build.startedAt === null ? null : Math.max(0, (build.finishedAt ?? at) - build.startedAt),
        })),
        nextCursor: found.nextCursor,
      };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/stats',
    summary: 'The queue (length, waits over the last hour), agents per engine and template, and capacity samples over the last hour',
    scope: 'read',
    response: stats,
    handler: async (ctx) => {
      const at = ctx.now();
      const queue = await ctx.store.jobs.queueStats();
      const waits = (await ctx.store.stats.queueWaits(at - HOUR_MS)).sort((a, b) => a - b);
      const fleet = ctx.fleet();
      return {
        queue: {
          length: queue.pendingJobs,
          oldestWaitMs: queue.oldestQueuedAt === null ? null : Math.max(0, at - queue.oldestQueuedAt),
          waitP50Ms: percentile(waits, 0.5),
          waitP90Ms: percentile(waits, 0.9),
          startedLastHour: waits.length,
        },
        agents: fleet === null ? [] : fleetCounts(fleet),
        capacity: await ctx.store.capacitySamples.since(at - HOUR_MS),
      };
    },
  }),
];
