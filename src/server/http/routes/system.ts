import { z } from 'zod';
import { SlipwayError, messageOf } from '../../../errors/index.js';
import type { ServerConfig } from '../../config/index.js';
import { defineRoute, type AnyRoute } from '../route.js';

/** Health, metrics: the routes a load balancer or Prometheus calls. */
export function systemRoutes(config: ServerConfig): AnyRoute[] {
  const routes = [
    defineRoute({
      method: 'GET',
      path: '/healthz',
      summary: 'Whether the server and its database answer',
      scope: 'public',
      response: z.object({ status: z.literal('ok'), database: z.literal('ok') }),
      handler: async (ctx) => {
        try {
          await ctx.store.projects.list({ limit: 1 });
        } catch (error) {
          throw new SlipwayError('INTERNAL', `the database does not answer: ${messageOf(error)}`, { cause: error });
        }
        return { status: 'ok' as const, database: 'ok' as const };
      },
    }),
  ];
  if (config.metrics.enabled) {
    routes.push(
      defineRoute({
        method: 'GET',
        path: '/metrics',
        summary: 'Prometheus metrics in the text exposition format',
        scope: config.metrics.requireToken ? 'read' : 'public',
        response: z.string(),
        contentType: 'text/plain; version=0.0.4; charset=utf-8',
        handler: (ctx) => ctx.registry.metrics(),
      }),
    );
  }
  return routes;
}
