import { z } from 'zod';
import { SlipwayError } from '../../../errors/index.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { projectName } from '../schemas.js';
import { projectByName } from './projects.js';

// 15 s: below the idle timeouts of common proxies (nginx 60 s, many load balancers 30 s).
const HEARTBEAT_MS = 15_000;

const eventId = z.coerce.number({ error: 'give an event id (a whole number)' }).int({ error: 'give an event id (a whole number)' }).min(0, { error: 'give an event id (a whole number)' });

export const eventRoutes: AnyRoute[] = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/events',
    summary:
      'Server-sent events: build.created, build.updated, job.updated… Each has an `id:`; reconnect with Last-Event-ID (or ?after=) to get exactly the events missed. Without either, only new events',
    scope: 'read',
    stream: true,
    query: z.strictObject({ after: eventId.optional(), project: projectName.optional() }),
    handler: async (ctx, { query, request, reply }) => {
      const header = request.headers['last-event-id'];
      const resume = typeof header === 'string' && header.trim() !== '' ? eventId.safeParse(header.trim()) : null;
      if (resume !== null && !resume.success) throw new SlipwayError('USAGE', 'Last-Event-ID must be the id of an event (a whole number)');
      const projectId = query.project === undefined ? null : (await projectByName(ctx.store, query.project)).id;
      const after = resume?.data ?? query.after ?? (await ctx.store.events.latestId());

      const raw = reply.raw;
      const abort = new AbortController();
      raw.on('close', () => abort.abort());
      const write = (text: string) => {
        if (!raw.writableEnded && !raw.destroyed) raw.write(text);
      };
      raw.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      write(`: events after ${after}\n\n`);
      const heartbeat = setInterval(() => write(': heartbeat\n\n'), HEARTBEAT_MS);
      try {
        for await (const event of ctx.events.subscribe(after, abort.signal)) {
          if (projectId !== null && event.projectId !== projectId) continue;
          write(`id: ${event.id}\nevent: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`);
        }
      } finally {
        clearInterval(heartbeat);
        abort.abort();
      }
    },
  }),
];
