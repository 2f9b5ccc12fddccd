import { z } from 'zod';
import { SlipwayError } from '../../../errors/index.js';
import type { JobSpec } from '../../../pipeline/index.js';
import type { Build, Job, Store } from '../../../store/index.js';
import { failureAllowed, skippedReason } from '../../builds/index.js';
import type { ServerConfig } from '../../config/index.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { branchName, buildStatus, buildView, jobView, page, pageQuery, projectParams, variables } from '../schemas.js';
import { projectByName } from './projects.js';

const buildWithJobs = buildView.extend({ jobs: z.array(jobView) });

export function toJobView(job: Job): z.infer<typeof jobView> {
  const spec = job.spec as Partial<JobSpec>;
  return {
    id: job.id,
    buildId: job.buildId,
    projectId: job.projectId,
    name: job.name,
    stage: job.stage,
    status: job.status,
    when: spec.when ?? 'on_success',
    needs: spec.needs === undefined || spec.needs === null ? null : spec.needs.map((n) => n.job),
    labels: job.labels,
    failureAllowed: failureAllowed(job),
    failure: job.failure,
    attempts: job.attempts,
    queuedAt: job.queuedAt,
    startedAt: job.startedAt,
    finishedAt: job.finishedAt,
    notBefore: job.notBefore,
    createdAt: job.createdAt,
  };
}

export function toBuildView(config: ServerConfig, build: Build, projectName: string): z.infer<typeof buildView> {
  return {
    id: build.id,
    projectId: build.projectId,
    project: projectName,
    number: build.number,
    status: build.status,
    ref: build.ref,
    refKind: build.refKind,
    commitSha: build.commitSha,
    commitMessage: build.commitMessage,
    commitAuthor: build.commitAuthor,
    commitTimestamp: build.commitTimestamp,
    beforeSha: build.beforeSha,
    logsExpired: build.logsExpiredAt !== null,
    source: build.source,
    variables: build.triggerVariables,
    errors: build.errors,
    reason: skippedReason(build.plan),
    url: buildUrl(config, projectName, build.number),
    createdAt: build.createdAt,
    startedAt: build.startedAt,
    finishedAt: build.finishedAt,
  };
}

export function buildUrl(config: ServerConfig, project: string, number: number): string {
  return `${config.publicUrl.replace(/\/+$/, '')}/projects/${encodeURIComponent(project)}/builds/${number}`;
}

async function buildOrThrow(store: Store, id: number): Promise<Build> {
  const build = await store.builds.get(id);
  if (build === null) throw new SlipwayError('NOT_FOUND', `there is no build ${id}; list a project's builds with GET /api/v1/projects/NAME/builds`);
  return build;
}

async function jobOrThrow(store: Store, id: number): Promise<Job> {
  const job = await store.jobs.get(id);
  if (job === null) throw new SlipwayError('NOT_FOUND', `there is no job ${id}; list a build's jobs with GET /api/v1/builds/ID/jobs`);
  return job;
}

async function fullBuild(store: Store, config: ServerConfig, id: number): Promise<z.infer<typeof buildWithJobs>> {
  const build = await buildOrThrow(store, id);
  const project = await store.projects.getOrThrow(build.projectId);
  return { ...toBuildView(config, build, project.name), jobs: (await store.jobs.listByBuild(id)).map(toJobView) };
}

const id = (what: string) => z.coerce.number({ error: `give a ${what} id (a whole number)` }).int({ error: `give a ${what} id (a whole number)` }).min(1, { error: `give a ${what} id (a whole number)` });
const buildParams = z.strictObject({ id: id('build') });
const jobParams = z.strictObject({ id: id('job') });

const refName = z.string().min(1, { error: 'give a branch, tag or commit' }).max(255, { error: 'use at most 255 characters' }).refine((r) => !r.startsWith('-') && !/[\s\\~^:?*[]/.test(r), {
  error: 'give a branch, tag or commit such as main, v1.2.0 or a commit SHA',
});

export const buildRoutes: AnyRoute[] = [
  defineRoute({
    method: 'POST',
    path: '/api/v1/projects/:name/builds',
    summary: "Start a build of a ref (the project's default branch when left out)",
    scope: 'write',
    params: projectParams,
    body: z.strictObject({ ref: refName.optional(), variables: variables.optional() }),
    response: buildWithJobs,
    status: 201,
    handler: async (ctx, { params, body }) => {
      const project = await projectByName(ctx.store, params.name);
      const started = await ctx.builds.trigger({ projectId: project.id, ref: body.ref ?? null, variables: body.variables ?? {}, source: 'api' });
      return fullBuild(ctx.store, ctx.config, started.buildId);
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/projects/:name/builds',
    summary: "List a project's builds, newest first, a page at a time",
    scope: 'read',
    params: projectParams,
    query: pageQuery.extend({ ref: branchName.optional(), status: buildStatus.optional() }),
    response: page(buildView),
    handler: async (ctx, { params, query }) => {
      const project = await projectByName(ctx.store, params.name);
      const found = await ctx.store.builds.list({ ...query, projectId: project.id });
      return { items: found.items.map((b) => toBuildView(ctx.config, b, project.name)), nextCursor: found.nextCursor };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/builds/:id',
    summary: 'Show a build with its jobs (and, for an invalid pipeline file, its errors)',
    scope: 'read',
    params: buildParams,
    response: buildWithJobs,
    handler: (ctx, { params }) => fullBuild(ctx.store, ctx.config, params.id),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/builds/:id/jobs',
    summary: "List a build's jobs in plan order",
    scope: 'read',
    params: buildParams,
    response: z.object({ items: z.array(jobView) }),
    handler: async (ctx, { params }) => {
      await buildOrThrow(ctx.store, params.id);
      return { items: (await ctx.store.jobs.listByBuild(params.id)).map(toJobView) };
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/builds/:id/cancel',
    summary: 'Cancel a build: waiting jobs at once, running jobs when their agent has stopped them',
    scope: 'write',
    params: buildParams,
    response: buildWithJobs,
    handler: async (ctx, { params }) => {
      await buildOrThrow(ctx.store, params.id);
      await ctx.builds.cancelBuild(params.id);
      return fullBuild(ctx.store, ctx.config, params.id);
    },
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/builds/:id/retry',
    summary: 'Start a new build of the same commit, ref and variables',
    scope: 'write',
    params: buildParams,
    response: buildWithJobs,
    status: 201,
    handler: async (ctx, { params }) => {
      await buildOrThrow(ctx.store, params.id);
      const retried = await ctx.builds.retryBuild(params.id);
      return fullBuild(ctx.store, ctx.config, retried.buildId);
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/jobs/:id',
    summary: 'Show a job',
    scope: 'read',
    params: jobParams,
    response: jobView,
    handler: async (ctx, { params }) => toJobView(await jobOrThrow(ctx.store, params.id)),
  }),
  ...(['cancel', 'retry', 'play'] as const).map((action) =>
    defineRoute({
      method: 'POST',
      path: `/api/v1/jobs/:id/${action}`,
      summary: { cancel: 'Cancel a job', retry: 'Run a failed or canceled job again', play: 'Start a manual job' }[action],
      scope: 'write',
      params: jobParams,
      response: jobView,
      handler: async (ctx, { params }) => {
        await jobOrThrow(ctx.store, params.id);
        if (action === 'cancel') await ctx.builds.cancelJob(params.id);
        else if (action === 'retry') await ctx.builds.retryJob(params.id);
        else await ctx.builds.playJob(params.id);
        return toJobView(await jobOrThrow(ctx.store, params.id));
      },
    }),
  ),
];
