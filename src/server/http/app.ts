import path from 'node:path';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyError, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import type { z } from 'zod';
import { SlipwayError, httpStatusOf, isSlipwayError } from '../../errors/index.js';
import type { Store, Token } from '../../store/index.js';
import { openFileStores, type FileStores } from '../agents/index.js';
import { createBuildController, type BuildController } from '../builds/index.js';
import { describeIssues, type ServerConfig } from '../config/index.js';
import { createEventBus, type EventBus } from '../events/index.js';
import { createGitMirrors, type GitMirrors } from '../git/index.js';
import type { Fleet } from '../provisioning/index.js';
import { authenticate, authorize } from './auth.js';
import type { AnyRoute, RouteContext } from './route.js';
import { serveUiFallback } from './routes/ui.js';
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
  /** The server's event bus; one over the store when left out. */
  events?: EventBus;
  /** The server's build controller; one of the app's own (mirrors under config.home/git) when left out. */
  builds?: BuildController;
  /** The server's git mirrors (the controller resolves commits in them, the source route archives from them); the app's own under config.home/git when left out. */
  git?: GitMirrors;
  /** The job logs and blobs the agent endpoint shares; opened under config on first use (and closed with the app) when left out. */
  files?: () => Promise<FileStores>;
  /** The metrics registry; a new one when left out. */
  registry?: Registry;
  /** The agents and engines now (the agent and engine views); null until they start, and always when left out. */
  fleet?: () => Fleet | null;
};

/**
 * The HTTP API as a fastify instance, not yet listening: `app.inject()` in tests,
 * `app.listen()` in startServer. Errors leave as `{ code, message }` with the status of
 * errors.httpStatusOf.
 */
export function buildApp(options: AppOptions): FastifyInstance {
  const registry = options.registry ?? new Registry();
  collectDefaultMetrics({ register: registry });
  const requests = new Counter({ name: 'slipway_http_requests_total', help: 'HTTP requests answered, by route and status', labelNames: ['method', 'route', 'status'], registers: [registry] });
  const durations = new Histogram({
    name: 'slipway_http_request_duration_seconds',
    help: 'Time to answer an HTTP request, by route',
    labelNames: ['method', 'route'],
    registers: [registry],
  });

  const now = options.now ?? Date.now;
  const events = options.events ?? createEventBus(options.store);
  // Only `main` reads the environment: the app's own mirrors (tests of the API alone) run git without it.
  const git = options.git ?? createGitMirrors({ dir: path.join(options.config.home, 'git'), baseEnv: {} });
  const builds = options.builds ?? createBuildController({ store: options.store, events, git, config: options.config, now });
  let ownFiles: ReturnType<typeof openFileStores> | undefined;
  const files = options.files ?? (() => (ownFiles ??= openFileStores(options.config)));
  const fleet = options.fleet ?? (() => null);
  const ctx: RouteContext = { config: options.config, store: options.store, secretsKey: options.secretsKey, registry, now, events, builds, git, files, fleet };
  const callers = new WeakMap<FastifyRequest, Token>();
  // fastify's own request lines are off: the onResponse hook writes one line per request, without headers.
  const app = Fastify({ loggerInstance: options.logger, logController: new LogController({ disableRequestLogging: true }) });

  app.addHook('onClose', async () => {
    if (ownFiles !== undefined) await (await ownFiles).close();
  });
  // Artifact and cache uploads: the handler streams the request itself (into the blob store, with its own size cap).
  app.addContentTypeParser(['application/octet-stream', 'application/gzip'], (_request, payload, done) => done(null, payload));
  app.setErrorHandler((error: FastifyError | SlipwayError, request, reply) => sendError(error, request, reply));
  app.setNotFoundHandler(async (request, reply) => {
    // The web UI is a single-page app: a browser asking for any of its pages gets index.html.
    if (await serveUiFallback(options.config, request, reply)) return reply;
    return reply.code(404).send({ code: 'NOT_FOUND', message: `no route ${request.method} ${pathOf(request.url)}; the routes are listed in /api/v1/openapi.json` });
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

  // Streams (server-sent events) never end by themselves: closing the app ends them.
  const streams = new Set<FastifyReply>();
  app.addHook('preClose', async () => {
    for (const reply of streams) reply.raw.end();
  });

  const register = (instance: FastifyInstance, route: AnyRoute) =>
    instance.route({
      method: route.method,
      url: route.path,
      ...(route.rawBody === undefined ? {} : { bodyLimit: route.rawBody.maxBytes }),
      handler: async (request, reply) => {
        let token: Token | null = null;
        if (route.scope === 'attempt') {
          if (!/^Bearer\s+\S+\s*$/i.test(request.headers.authorization ?? '')) {
            throw new SlipwayError('UNAUTHORIZED', 'send the job attempt\'s token in Authorization: Bearer <token>');
          }
        } else if (route.scope !== 'public') {
          token = await authenticate(ctx.store, request.headers.authorization, ctx.now());
          callers.set(request, token);
          authorize(token, route.scope, `${route.method} ${route.path}`);
        }
        const input = {
          params: parse(route.params, request.params),
          query: parse(route.query, request.query),
          body: route.rawBody === undefined ? parseBody(route, request.body) : Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0),
          token,
          request,
          reply,
        };
        if (route.stream === true) {
          reply.hijack();
          streams.add(reply);
          try {
            await route.handler(ctx, input);
          } finally {
            streams.delete(reply);
            if (!reply.raw.writableEnded) reply.raw.end();
          }
          return reply;
        }
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

  const table = routeTable(options.config, options.version ?? '0.0.0');
  for (const route of table.filter((r) => r.rawBody === undefined)) register(app, route);
  // Routes that verify a signature over the body get it as bytes: their own scope without the JSON parser.
  void app.register(async (raw) => {
    raw.removeAllContentTypeParsers();
    raw.addContentTypeParser('*', { parseAs: 'buffer' }, (_request, body, done) => done(null, body));
    for (const route of table.filter((r) => r.rawBody !== undefined)) register(raw, route);
  });
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
