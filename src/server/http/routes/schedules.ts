import { z } from 'zod';
import { SlipwayError } from '../../../errors/index.js';
import { nextRunAt } from '../../triggers/index.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { projectName, projectParams, variables } from '../schemas.js';
import { projectByName } from './projects.js';

const schedule = z.object({
  id: z.number().int(),
  projectId: z.number().int(),
  cron: z.string(),
  ref: z.string(),
  variables: z.record(z.string(), z.string()),
  enabled: z.boolean(),
  nextRunAt: z.number().int().nullable().describe('milliseconds since the epoch; null while disabled'),
  lastRunAt: z.number().int().nullable(),
  createdAt: z.number().int(),
  updatedAt: z.number().int(),
});

export const scheduleRoutes: AnyRoute[] = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/projects/:name/schedules',
    summary: "List a project's cron schedules",
    scope: 'read',
    params: projectParams,
    response: z.object({ items: z.array(schedule) }),
    handler: async (ctx, { params }) => ({ items: await ctx.store.schedules.list((await projectByName(ctx.store, params.name)).id) }),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/projects/:name/schedules',
    summary: 'Add a cron schedule (five fields, UTC) that builds a ref',
    scope: 'write',
    params: projectParams,
    body: z.strictObject({
      cron: z.string({ error: 'give cron as an expression such as "0 3 * * *"' }).min(1).max(200),
      ref: z.string().min(1).max(255).optional(),
      variables: variables.optional(),
      enabled: z.boolean().optional(),
    }),
    response: schedule,
    status: 201,
    handler: async (ctx, { params, body }) => {
      const project = await projectByName(ctx.store, params.name);
      const enabled = body.enabled ?? true;
      const next = nextRunAt(body.cron, ctx.now());
      return ctx.store.schedules.create({ projectId: project.id, cron: body.cron, ref: body.ref ?? project.defaultBranch, variables: body.variables ?? {}, enabled, nextRunAt: enabled ? next : null });
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/projects/:name/schedules/:id',
    summary: 'Delete a schedule',
    scope: 'write',
    params: z.strictObject({ name: projectName, id: z.coerce.number({ error: 'give a schedule id' }).int().min(1) }),
    handler: async (ctx, { params }) => {
      const project = await projectByName(ctx.store, params.name);
      const found = await ctx.store.schedules.get(params.id);
      if (found === null || found.projectId !== project.id || !(await ctx.store.schedules.delete(params.id))) {
        throw new SlipwayError('NOT_FOUND', `project ${project.name} has no schedule ${params.id}`);
      }
    },
  }),
];
