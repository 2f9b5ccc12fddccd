import { Readable } from 'node:stream';
import { z } from 'zod';
import { SlipwayError } from '../../../errors/index.js';
import type { Job, Store } from '../../../store/index.js';
import type { LogKey } from '../../logs/index.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { streamAnswer } from './stream-answer.js';

const jobParams = z.object({ id: z.coerce.number().int().positive() });
const attemptQuery = z.object({ attempt: z.coerce.number().int().positive().optional() });

/** The log of an attempt of the job: the one asked for, else the newest; null before any. */
async function logKey(store: Store, jobId: number, attempt: number | undefined): Promise<{ job: Job; key: LogKey | null }> {
  const job = await store.jobs.get(jobId);
  if (job === null) throw new SlipwayError('NOT_FOUND', `there is no job ${jobId}`);
  if (attempt !== undefined && attempt > job.attempts) throw new SlipwayError('NOT_FOUND', `job ${jobId} has ${job.attempts} attempt(s), not ${attempt}`);
  const number = attempt ?? job.attempts;
  return { job, key: number === 0 ? null : { jobId, attempt: number } };
}

/**
 * GONE when retention deleted this attempt's log: its build's logs expired after the
 * attempt began. Retention deletes whole logs, so only an empty one needs asking about.
 */
async function notExpired(store: Store, job: Job, number: number): Promise<void> {
  const build = await store.builds.get(job.buildId);
  const expiredAt = build?.logsExpiredAt ?? null;
  if (build === null || expiredAt === null) return;
  const made = (await store.attempts.listByJob(job.id)).find((a) => a.number === number);
  if (made !== undefined && made.createdAt > expiredAt) return;
  throw new SlipwayError(
    'GONE',
    `the log of job ${job.id} (attempt ${number}) expired: build #${build.number} finished more than retention.logsDays ago, and its logs were deleted on ${new Date(expiredAt).toISOString()}`,
  );
}

/** Job logs for people and the CLI: by offset (for following), or whole. */
export const logRoutes: AnyRoute[] = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/jobs/:id/log',
    summary: "Read a job attempt's log from a byte offset (the newest attempt unless ?attempt=N)",
    scope: 'read',
    params: jobParams,
    query: attemptQuery.extend({
      offset: z.coerce.number().int().nonnegative().default(0),
      limit: z.coerce.number().int().positive().max(4 * 1024 * 1024).optional(),
    }),
    response: z.object({ attempt: z.number(), text: z.string(), nextOffset: z.number(), size: z.number(), complete: z.boolean() }),
    handler: async (ctx, { params, query }) => {
      const { job, key } = await logKey(ctx.store, params.id, query.attempt);
      if (key === null) return { attempt: 0, text: '', nextOffset: 0, size: 0, complete: false };
      const read = await (await ctx.files()).logs.read(key, { offset: query.offset, ...(query.limit === undefined ? {} : { limit: query.limit }) });
      // Followers poll this route: a log with bytes costs no look-up of its build.
      if (read.size === 0) await notExpired(ctx.store, job, key.attempt);
      return { attempt: key.attempt, ...read };
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/jobs/:id/log/raw',
    summary: "A job attempt's whole log as text (the newest attempt unless ?attempt=N)",
    scope: 'read',
    params: jobParams,
    query: attemptQuery,
    stream: true,
    handler: async (ctx, { params, query, reply }) =>
      streamAnswer(reply, async () => {
        const { job, key } = await logKey(ctx.store, params.id, query.attempt);
        if (key !== null) await notExpired(ctx.store, job, key.attempt);
        const { logs } = await ctx.files();
        async function* text(): AsyncGenerator<string> {
          if (key === null) return;
          for (let offset = 0; ; ) {
            const read = await logs.read(key, { offset });
            if (read.text !== '') yield read.text;
            if (read.nextOffset >= read.size) return;
            offset = read.nextOffset;
          }
        }
        return { type: 'text/plain; charset=utf-8', body: Readable.from(text()) };
      }),
  }),
];
