import { z } from 'zod';
import { SlipwayError } from '../../../errors/index.js';
import type { AnyRoute } from '../route.js';
import { attemptDownload } from './stream-answer.js';

/** The job's source for agents that cannot (or need not) check it out with git. */
export const sourceRoutes: AnyRoute[] = [
  attemptDownload({
    path: '/api/v1/attempts/:attemptId/source',
    summary: "Download the tree of the attempt's commit as a tar (agents, with the attempt token; no .git inside)",
    params: z.object({ attemptId: z.coerce.number().int().positive() }),
    produce: async (ctx, attempt) => {
      const job = await ctx.store.jobs.get(attempt.jobId);
      const build = job === null ? null : await ctx.store.builds.get(job.buildId);
      if (job === null || build === null) throw new SlipwayError('NOT_FOUND', `the job of attempt ${attempt.id} no longer exists`);
      const project = await ctx.store.projects.getOrThrow(job.projectId);
      const body = await ctx.git.archive(project.repositoryUrl, build.commitSha);
      return { type: 'application/x-tar', body, fileName: `${build.commitSha}.tar` };
    },
  }),
];
