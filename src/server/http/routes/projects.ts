import { z } from 'zod';
import { SlipwayError } from '../../../errors/index.js';
import type { Project, Store } from '../../../store/index.js';
import { encryptSecret } from '../../crypto/index.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { newProject, page, pageQuery, project, projectParams, projectPatch, projectName, variableName } from '../schemas.js';

export async function projectByName(store: Store, name: string): Promise<Project> {
  const found = await store.projects.getByName(name);
  if (found === null) throw new SlipwayError('NOT_FOUND', `there is no project named "${name}"; list them with GET /api/v1/projects`);
  return found;
}

const secretParams = z.strictObject({ name: projectName, secret: variableName });

const secretInfo = z.object({ name: z.string(), updatedAt: z.number().int().describe('milliseconds since the epoch') });

export const projectRoutes: AnyRoute[] = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/projects',
    summary: 'List projects by name, a page at a time',
    scope: 'read',
    query: pageQuery,
    response: page(project),
    handler: (ctx, { query }) => ctx.store.projects.list(query),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/projects',
    summary: 'Create a project',
    scope: 'write',
    body: newProject,
    response: project,
    status: 201,
    handler: (ctx, { body }) => ctx.store.projects.create(body),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/projects/:name',
    summary: 'Show a project',
    scope: 'read',
    params: projectParams,
    response: project,
    handler: (ctx, { params }) => projectByName(ctx.store, params.name),
  }),
  defineRoute({
    method: 'PATCH',
    path: '/api/v1/projects/:name',
    summary: 'Change the fields given (variables are replaced as a whole)',
    scope: 'write',
    params: projectParams,
    body: projectPatch,
    response: project,
    handler: async (ctx, { params, body }) => {
      const current = await projectByName(ctx.store, params.name);
      const updated = await ctx.store.projects.update(current.id, body);
      if (updated === null) throw new SlipwayError('NOT_FOUND', `project "${params.name}" was deleted meanwhile`);
      return updated;
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/projects/:name',
    summary: 'Delete a project with its secrets, schedules and builds',
    scope: 'write',
    params: projectParams,
    handler: async (ctx, { params }) => {
      const current = await projectByName(ctx.store, params.name);
      if (!(await ctx.store.projects.delete(current.id))) throw new SlipwayError('NOT_FOUND', `project "${params.name}" was deleted meanwhile`);
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/projects/:name/secrets',
    summary: "List a project's secrets: names and when each was set, never the values",
    scope: 'read',
    params: projectParams,
    response: z.object({ items: z.array(secretInfo) }),
    handler: async (ctx, { params }) => {
      const current = await projectByName(ctx.store, params.name);
      return { items: await ctx.store.secrets.listNames(current.id) };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/api/v1/projects/:name/secrets/:secret',
    summary: 'Set a secret; it is stored encrypted and never shown again',
    scope: 'write',
    params: secretParams,
    body: z.strictObject({ value: z.string({ error: 'give the secret as a string' }).max(65_536, { error: 'secrets are at most 64 KiB' }) }),
    response: secretInfo,
    handler: async (ctx, { params, body }) => {
      const current = await projectByName(ctx.store, params.name);
      const ciphertext = encryptSecret(ctx.secretsKey, { projectId: current.id, name: params.secret }, body.value);
      await ctx.store.secrets.set({ projectId: current.id, name: params.secret, ciphertext });
      const stored = (await ctx.store.secrets.listNames(current.id)).find((s) => s.name === params.secret);
      if (stored === undefined) throw new SlipwayError('NOT_FOUND', `project "${params.name}" was deleted meanwhile`);
      return stored;
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/projects/:name/secrets/:secret',
    summary: 'Delete a secret',
    scope: 'write',
    params: secretParams,
    handler: async (ctx, { params }) => {
      const current = await projectByName(ctx.store, params.name);
      if (!(await ctx.store.secrets.delete(current.id, params.secret))) {
        throw new SlipwayError('NOT_FOUND', `project "${params.name}" has no secret named ${params.secret}`);
      }
    },
  }),
];
