import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import type { FastifyRequest } from 'fastify';
import { z } from 'zod';
import { SlipwayError } from '../../../errors/index.js';
import type { JobSpec } from '../../../pipeline/index.js';
import type { Artifact, Job, JobAttempt, Store } from '../../../store/index.js';
import { authenticateAttempt } from '../../agents/index.js';
import { defineRoute, type AnyRoute, type RouteContext } from '../route.js';
import { attemptDownload, streamAnswer } from './stream-answer.js';

const id = z.coerce.number().int().positive();
const attemptParams = z.object({ attemptId: id });
const cacheParams = z.object({ attemptId: id, key: z.string().min(1).max(250) });
const jobParams = z.object({ id });

/** The request's body as a stream: the app's stream parser passes it through, others leave it unread. */
function bodyOf(request: FastifyRequest): Readable {
  return request.body instanceof Readable ? request.body : request.raw;
}

async function jobOf(store: Store, jobId: number): Promise<Job> {
  const job = await store.jobs.get(jobId);
  if (job === null) throw new SlipwayError('NOT_FOUND', `there is no job ${jobId}`);
  return job;
}

/** The newest artifact archive of a job, or NOT_FOUND. */
async function latestArtifact(store: Store, jobId: number): Promise<Artifact> {
  const artifact = (await store.artifacts.listByJob(jobId)).at(-1);
  if (artifact === undefined) throw new SlipwayError('NOT_FOUND', `job ${jobId} has no artifacts`);
  return artifact;
}

async function openBlob(ctx: RouteContext, blobId: string, what: string): Promise<Readable> {
  const body = await (await ctx.files()).blobs.open(blobId);
  if (body === null) throw new SlipwayError('NOT_FOUND', `${what} is no longer stored`);
  return body;
}

/** Stores the request body as a blob, within the upload limit (PAYLOAD_TOO_LARGE past it, announced or not). */
async function receive(ctx: RouteContext, request: FastifyRequest): Promise<{ id: string; sizeBytes: number }> {
  const maxBytes = ctx.config.blobs.maxUploadBytes;
  const announced = Number(request.headers['content-length']);
  if (Number.isSafeInteger(announced) && announced > maxBytes) {
    throw new SlipwayError('PAYLOAD_TOO_LARGE', `the upload is ${announced} bytes, larger than the server's limit of ${maxBytes} bytes (blobs.maxUploadBytes); it was not stored: upload fewer or smaller files`);
  }
  return (await ctx.files()).blobs.put(bodyOf(request), { maxBytes });
}

async function attemptOf(ctx: RouteContext, request: FastifyRequest, attemptId: number): Promise<{ attempt: JobAttempt; job: Job }> {
  const attempt = await authenticateAttempt(ctx.store, request.headers.authorization, attemptId);
  return { attempt, job: await jobOf(ctx.store, attempt.jobId) };
}

/** What agents move over HTTP with an attempt's token: artifacts in and out, the project's caches. */
export const attemptFileRoutes: AnyRoute[] = [
  attemptDownload({
    path: '/api/v1/attempts/:attemptId/artifacts/:jobId',
    summary: 'Download the artifact archive of a job of the same build (agents, with the attempt token)',
    params: z.object({ attemptId: id, jobId: id }),
    produce: async (ctx, attempt, params) => {
      const job = await jobOf(ctx.store, attempt.jobId);
      const from = await ctx.store.jobs.get(params.jobId);
      if (from === null || from.buildId !== job.buildId) throw new SlipwayError('NOT_FOUND', `job ${params.jobId} is not in the build of attempt ${params.attemptId}`);
      const artifact = await latestArtifact(ctx.store, from.id);
      return { type: 'application/gzip', body: await openBlob(ctx, artifact.storagePath, `the artifact archive of job ${from.id}`) };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/api/v1/attempts/:attemptId/artifacts',
    summary: "Upload an attempt's artifact archive (tar.gz; checked before it is kept)",
    scope: 'attempt',
    params: attemptParams,
    handler: async (ctx, { params, request }) => {
      const { attempt, job } = await attemptOf(ctx, request, params.attemptId);
      const { blobs } = await ctx.files();
      const blob = await receive(ctx, request);
      const check = await blobs.verifyArchive(blob.id);
      if (check === null || !check.ok) {
        await blobs.delete(blob.id);
        throw new SlipwayError('ARCHIVE_INVALID', `the artifact archive was refused: ${check === null ? 'it is missing' : check.problem}`);
      }
      const spec = job.spec as JobSpec;
      const expireInMs = spec.artifacts?.expireInMs ?? null;
      try {
        await ctx.store.artifacts.create({
          id: randomBytes(16).toString('hex'),
          jobId: job.id,
          buildId: job.buildId,
          attempt: attempt.number,
          name: spec.artifacts?.name ?? job.name,
          sizeBytes: blob.sizeBytes,
          fileCount: check.files,
          storagePath: blob.id,
          expiresAt: expireInMs === null ? null : ctx.now() + expireInMs,
        });
      } catch (error) {
        await blobs.delete(blob.id);
        throw error;
      }
    },
  }),
  attemptDownload({
    path: '/api/v1/attempts/:attemptId/caches/:key',
    summary: "Download a cache archive of the attempt's project (404 on a miss)",
    params: cacheParams,
    produce: async (ctx, attempt, params) => {
      const job = await jobOf(ctx.store, attempt.jobId);
      const entry = await ctx.store.caches.get(job.projectId, params.key);
      if (entry === null) throw new SlipwayError('NOT_FOUND', `there is no cache "${params.key}"`);
      return { type: 'application/gzip', body: await openBlob(ctx, entry.blobId, `cache "${params.key}"`) };
    },
  }),
  defineRoute({
    method: 'PUT',
    path: '/api/v1/attempts/:attemptId/caches/:key',
    summary: "Store a cache archive of the attempt's project",
    scope: 'attempt',
    params: cacheParams,
    handler: async (ctx, { params, request }) => {
      const { job } = await attemptOf(ctx, request, params.attemptId);
      const { blobs } = await ctx.files();
      const blob = await receive(ctx, request);
      let previous: string | null;
      try {
        ({ previousBlobId: previous } = await ctx.store.caches.put({ projectId: job.projectId, key: params.key, blobId: blob.id, sizeBytes: blob.sizeBytes }));
      } catch (error) {
        await blobs.delete(blob.id);
        throw error;
      }
      if (previous !== null) await blobs.delete(previous);
    },
  }),
];

const artifactView = z.object({
  id: z.string(),
  name: z.string(),
  attempt: z.number(),
  sizeBytes: z.number(),
  fileCount: z.number(),
  expiresAt: z.number().nullable(),
  createdAt: z.number(),
});

/** A job's artifacts for people: the listing, one file, the whole archive. */
export const jobArtifactRoutes: AnyRoute[] = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/jobs/:id/artifacts',
    summary: "List the files of a job's newest artifact archive",
    scope: 'read',
    params: jobParams,
    response: z.object({
      artifact: artifactView,
      entries: z.array(z.object({ path: z.string(), type: z.enum(['file', 'directory', 'symlink']), size: z.number(), mode: z.number(), linkTarget: z.string().nullable() })),
    }),
    handler: async (ctx, { params }) => {
      const artifact = await latestArtifact(ctx.store, (await jobOf(ctx.store, params.id)).id);
      const entries = await (await ctx.files()).blobs.listArchive(artifact.storagePath);
      if (entries === null) throw new SlipwayError('NOT_FOUND', `the artifact archive of job ${params.id} is no longer stored`);
      return { artifact, entries };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/jobs/:id/artifacts/file',
    summary: "Download one file of a job's newest artifact archive",
    scope: 'read',
    params: jobParams,
    query: z.object({ path: z.string().min(1) }),
    stream: true,
    handler: async (ctx, { params, query, reply }) =>
      streamAnswer(reply, async () => {
        const artifact = await latestArtifact(ctx.store, (await jobOf(ctx.store, params.id)).id);
        const body = await (await ctx.files()).blobs.readArchiveEntry(artifact.storagePath, query.path);
        if (body === null) throw new SlipwayError('NOT_FOUND', `the artifacts of job ${params.id} have no file ${query.path}`);
        return { type: 'application/octet-stream', body, fileName: query.path.split('/').at(-1) ?? 'file' };
      }),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/jobs/:id/artifacts/archive',
    summary: "Download a job's newest artifact archive (tar.gz)",
    scope: 'read',
    params: jobParams,
    stream: true,
    handler: async (ctx, { params, reply }) =>
      streamAnswer(reply, async () => {
        const artifact = await latestArtifact(ctx.store, (await jobOf(ctx.store, params.id)).id);
        return { type: 'application/gzip', body: await openBlob(ctx, artifact.storagePath, `the artifact archive of job ${params.id}`), fileName: `${artifact.name}.tar.gz` };
      }),
  }),
];
