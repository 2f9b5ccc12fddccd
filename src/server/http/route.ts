import type { GitMirrors } from '../git/index.js';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Registry } from 'prom-client';
import type { z } from 'zod';
import type { Store, Token, TokenScope } from '../../store/index.js';
import type { FileStores } from '../agents/files.js';
import type { BuildController } from '../builds/index.js';
import type { ServerConfig } from '../config/index.js';
import type { EventBus } from '../events/index.js';
import type { Fleet } from '../provisioning/index.js';

/**
 * What a route needs from its caller: public, an API token with at least this scope, or
 * 'attempt': a job attempt's token (the agent's file routes; the app only requires the
 * header, the handler checks the token against the attempt in its path).
 */
export type Scope = TokenScope | 'public' | 'attempt';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** What every handler may use; built once per app. */
export type RouteContext = {
  readonly config: ServerConfig;
  readonly store: Store;
  readonly secretsKey: Buffer;
  readonly registry: Registry;
  /** Milliseconds since the epoch; tests inject a clock. */
  readonly now: () => number;
  readonly events: EventBus;
  readonly builds: BuildController;
  /** The server's git mirrors. */
  readonly git: GitMirrors;
  /** Job logs and blobs (artifacts, caches), shared with the agent endpoint. */
  readonly files: () => Promise<FileStores>;
  /** The connected agents and the engines' agents; null where the app runs without them (tests of the API alone). */
  readonly fleet: () => Fleet | null;
};

export type HandlerInput<P, Q, B> = {
  params: P;
  query: Q;
  body: B;
  /** The caller's token; null on public routes. */
  token: Token | null;
  request: FastifyRequest;
  /** For `stream` routes, which write their answer to reply.raw themselves. */
  reply: FastifyReply;
};

/**
 * One route of the API: its path (fastify syntax, `:name`), the scope it needs, and a zod
 * schema for everything it takes and gives. The app validates params, query and body before
 * the handler runs and parses the response through `response` (unknown fields are dropped,
 * so a stored hash or ciphertext cannot leak through a handler's mistake). The OpenAPI
 * document is generated from the same schemas.
 */
export type Route<P = unknown, Q = unknown, B = unknown, R = unknown> = {
  readonly method: HttpMethod;
  readonly path: string;
  readonly summary: string;
  readonly scope: Scope;
  readonly params?: z.ZodType<P>;
  readonly query?: z.ZodType<Q>;
  readonly body?: z.ZodType<B>;
  /** The success body; without one the route answers 204 No Content. */
  readonly response?: z.ZodType<R>;
  /** 200 when left out (204 without a response schema). */
  readonly status?: 200 | 201;
  /** For non-JSON answers (the metrics text format); `response` then describes a string. */
  readonly contentType?: string;
  /**
   * A long-lived answer (server-sent events): after authentication the reply is hijacked
   * and the handler writes to reply.raw until it resolves; the app ends such answers when
   * it closes. `response` is then left out.
   */
  readonly stream?: true;
  /** The body arrives as the raw bytes (a Buffer, for signatures over it) instead of JSON; at most this many bytes. */
  readonly rawBody?: { maxBytes: number };
  readonly handler: (ctx: RouteContext, input: HandlerInput<P, Q, B>) => Promise<R>;
};

/** A route with its types erased, for the table. */
export type AnyRoute = Route<any, any, any, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

/** Checks a route's handler against its schemas, then erases the types for the table. */
export function defineRoute<P = undefined, Q = undefined, B = undefined, R = undefined>(route: Route<P, Q, B, R>): AnyRoute {
  return route as AnyRoute;
}
