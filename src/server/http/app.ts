import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { z } from 'zod';
import { SlipwayError, httpStatusOf, isSlipwayError } from '../../errors/index.js';
import type { Store, Token } from '../../store/index.js';
import { describeIssues, type ServerConfig } from '../config/index.js';
import { authenticate, authorize } from './auth.js';
import type { AnyRoute, RouteContext } from './route.js';
import { routeTable } from './table.js';

export type AppOptions = {
  config: ServerConfig;
  /** Open, migrated; the caller closes it after the app. */
  store: Store;
  /** A child of the root pino logger; request lines go here without headers, so no token reaches a log. */
  logger: FastifyBaseLogger;
  /** The key that seals project secrets (config.ensureSecretsKey). */
  secretsKey: Buffer;
  /** For the OpenAPI document. */
  version?: string;
  /** Milliseconds since the epoch; Date.now when left out. */
  now?: () => number;
};

/**
 * The HTTP API as a fastify instance, not yet listening: `app.inject()` in tests,
 * `app.listen()` in startServer. Errors leave as `{ code, message }` with the status of
 * errors.httpStatusOf.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({ name: 'slipway_http_requests_total', help: 'HTTP requests answered, by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const durations = new Histogram({
    name: 'slipway_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route',
    labelNames: ['method', 'route'],
    registers: [registry],
  });

  const ctx: RouteContext = { config: options.config, store: options.store, secretsKey: options.secretsKey, registry, now: options.now ?? Date.now };
  const callers = new WeakMap<FastifyRequest, Token>();
  // fastify's own request lines are off: the onResponse hook writes one line per request, without headers.
  const app = Fastify({ loggerInstance: options.logger, logController: new LogController({ disableRequestLogging: true }) });

  app.setErrorHandler((error: FastifyError | SlipwayError, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler((request, reply) => {
    void reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${pathOf(request.url)}; the routes are listed in /api/v1/openapi.json` });
  });
  app.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    requests.inc({ method: request.method, route, status: String(reply.statusCode) });
    durations.observe({ method: request.method, route }, reply.elapsedTime / 1000);
    request.log.info(
      { method: request.method, path: pathOf(request.url), statusCode: reply.statusCode, responseTimeMs: Math.round(reply.elapsedTime), tokenId: callers.get(request)?.id },
      'request',
    );
  });

  for (const route of routeTable(options.config, options.version ?? '0.0.0')) {
    app.route({
      method: route.method,
      url: route.path,
      handler: async (request, reply) => {
        let token: Token | null = null;
        if (route.scope !== 'public') {
          token = await authenticate(ctx.store, request.headers.authorization, ctx.now());
          callers.set(request, token);
          authorize(token, route.scope, `${route.method} ${route.path}`);
        }
        const input = {
          params: parse(route.params, request.params),
          query: parse(route.query, request.query),
          body: parseBody(route, request.body),
          token,
          request,
        };
        const result: unknown = await route.handler(ctx, input);
        if (route.response === undefined) return reply.code(204).send();
        const checked = route.response.safeParse(result);
        if (!checked.success) {
          throw new SlipwayError('INTERNAL', `the answer of ${route.method} ${route.path} does not match its schema: ${describeIssues(checked.error.issues).join('; ')}`);
        }
        void reply.code(route.status ?? 200);
        if (route.contentType !== undefined) void reply.type(route.contentType);
        return checked.data;
      },
    });
  }
  return app;
}

function parse(schema: z.ZodType | undefined, value: unknown): unknown {
  if (schema === undefined) return undefined;
  const result = schema.safeParse(value ?? {});
  if (!result.success) throw new SlipwayError('USAGE', describeIssues(result.error.issues).join('; '));
  return result.data;
}

function parseBody(route: AnyRoute, body: unknown): unknown {
  if (route.body === undefined) return undefined;
  if (body === undefined || body === null) {
    throw new SlipwayError('USAGE', `${route.method} ${route.path} takes a JSON body: send it with Content-Type: application/json`);
  }
  return parse(route.body, body);
}

function sendError(error: FastifyError | SlipwayError, request: FastifyRequest, reply: FastifyReply): FastifyReply {
  if (isSlipwayError(error)) {
    const status = httpStatusOf[error.code];
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    return reply.code(status).send({ code: error.code, message: error.message });
  }
  const status = error.statusCode;
  // fastify's own refusals (malformed JSON, body too large, unsupported media type) are the caller's to fix.
  if (status !== undefined && status >= 400 && status < 500) {
    return reply.code(status).send({ code: status === 404 ? 'NOT_FOUND' : 'USAGE', message: error.message });
  }
  request.log.error({ err: error }, 'request failed');
  return reply.code(500).send({ code: 'INTERNAL', message: `internal error; the server log has the details (request ${request.id})` });
}

/** The URL without its query string: a query may carry things that do not belong in logs. */
function pathOf(url: string): string {
  const at = url.indexOf('?');
  return at < 0 ? url : url.slice(0, at);
}
