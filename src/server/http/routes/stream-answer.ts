import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { FastifyReply } from 'fastify';
import type { z } from 'zod';
import type { JobAttempt } from '../../../store/index.js';
import { SlipwayError, httpStatusOf, isSlipwayError, messageOf } from '../../../errors/index.js';
import { authenticateAttempt } from '../../agents/index.js';
import { defineRoute, type AnyRoute, type RouteContext } from '../route.js';

export type StreamedAnswer = { type: string; body: Readable; fileName?: string };

/** A streamed answer: the body, or an error as `{ code, message }` when producing it fails first. */
export async function streamAnswer(reply: FastifyReply, produce: () => Promise<StreamedAnswer>): Promise<void> {
  let answer: StreamedAnswer;
  try {
    answer = await produce();
  } catch (error) {
    const known = isSlipwayError(error) ? error : new SlipwayError('INTERNAL', `internal error: ${messageOf(error)}`, { cause: error });
    if (!isSlipwayError(error)) reply.log.error({ err: error }, 'request failed');
    reply.raw.writeHead(httpStatusOf[known.code], { 'content-type': 'application/json; charset=utf-8' });
    reply.raw.end(JSON.stringify({ code: known.code, message: known.message }));
    return;
  }
  const headers: Record<string, string> = { 'content-type': answer.type };
  if (answer.fileName !== undefined) headers['content-disposition'] = `attachment; filename="${answer.fileName.replace(/["\\\r\n]/g, '_')}"`;
  reply.raw.writeHead(200, headers);
  await pipeline(answer.body, reply.raw).catch((error: unknown) => reply.log.warn({ err: messageOf(error) }, 'download interrupted'));
}

/**
 * A GET an agent makes with an attempt's token (its path has `:attemptId`): the token is
 * checked against the attempt before `produce` runs, and the answer is streamed.
 */
export function attemptDownload<P extends { attemptId: number }>(route: {
  path: string;
  summary: string;
  params: z.ZodType<P>;
  produce: (ctx: RouteContext, attempt: JobAttempt, params: P) => Promise<StreamedAnswer>;
}): AnyRoute {
  return defineRoute({
    method: 'GET',
    path: route.path,
    summary: route.summary,
    scope: 'attempt',
    params: route.params,
    stream: true,
    handler: async (ctx, { params, request, reply }) =>
      streamAnswer(reply, async () => {
        const attempt = await authenticateAttempt(ctx.store, request.headers.authorization, params.attemptId);
        return route.produce(ctx, attempt, params);
      }),
  });
}
