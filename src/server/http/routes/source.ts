import path from 'node:path';
import { z } from 'zod';
import { SlipwayError } from '../../../errors/index.js';
import { authenticateAttempt } from '../../agents/index.js';
import { createGitMirrors, type GitMirrors } from '../../git/index.js';
import { defineRoute, type AnyRoute, type RouteContext } from '../route.js';
import { streamAnswer } from './artifacts.js';

const attemptParams = z.object({ attemptId: z.coerce.number().int().positive() });

/**
 * The mirrors under config.home/git, where the build controller resolved the commit.
 * Another cache over the same directory is safe (and costs nothing to make): src/git's
 * mirror cache takes turns per mirror path across caches and renames mirrors into place.
 */
function mirrorsOf(ctx: RouteContext): GitMirrors {
  return createGitMirrors({ dir: path.join(ctx.config.home, 'git') });
}

/** The job's source for agents that cannot (or need not) check it out with git. */
export const sourceRoutes: AnyRoute[] = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/attempts/:attemptId/source',
    summary: "Download the tree of the attempt's commit as a tar (agents, with the attempt token; no .git inside)",
    scope: 'attempt',
    params: attemptParams,
    stream: true,
    handler: async (ctx, { params, request, reply }) =>
      streamAnswer(reply, async () => {
        const attempt = await authenticateAttempt(ctx.store, request.headers.authorization, params.attemptId);
        const job = await ctx.store.jobs.get(attempt.jobId);
        const build = job === null ? null : await ctx.store.builds.get(job.buildId);
        if (job === null || build === null) throw new SlipwayError('NOT_FOUND', `the job of attempt ${attempt.id} no longer exists`);
        const project = await ctx.store.projects.getOrThrow(job.projectId);
        const body = await mirrorsOf(ctx).archive(project.repositoryUrl, build.commitSha);
        return { type: 'application/x-tar', body, fileName: `${build.commitSha}.tar` };
      }),
  }),
];
