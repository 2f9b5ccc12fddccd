import { z } from 'zod';
import { SlipwayError } from '../../../errors/index.js';
import type { TokenKind } from '../../../store/index.js';
import { createToken } from '../auth.js';
import { defineRoute, type AnyRoute } from '../route.js';
import { expiresAt, idParam, page, pageQuery, token, tokenName, tokenScope } from '../schemas.js';

const createdToken = token.extend({ token: z.string().describe('the token itself: shown in this answer only, store it now') });

async function revoke(ctx: Parameters<AnyRoute['handler']>[0], kind: TokenKind, id: number): Promise<void> {
  const found = await ctx.store.tokens.get(id);
  if (found === null || found.kind !== kind) throw new SlipwayError('NOT_FOUND', `there is no ${kind === 'api' ? 'API' : 'agent registration'} token with id ${id}`);
  if (found.revokedAt !== null) return;
  // The last admin token must stay: without it nobody could create tokens any more.
  if (kind === 'api' && found.scopes.includes('admin') && (await ctx.store.tokens.countAdmins(ctx.now())) <= 1) {
    throw new SlipwayError('CONFLICT', `token ${id} is the last admin token; create another admin token before revoking it`);
  }
  await ctx.store.tokens.revoke(id);
}

export const tokenRoutes: AnyRoute[] = [
  defineRoute({
    method: 'GET',
    path: '/api/v1/me',
    summary: 'The token this request carries: its name and scopes (a sign-in check)',
    scope: 'read',
    response: token,
    handler: async (_ctx, { token: caller }) => {
      if (caller === null) throw new SlipwayError('INTERNAL', 'GET /api/v1/me ran without a caller; it needs a token');
      return caller;
    },
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/tokens',
    summary: 'List API tokens (revoked ones included), never their values',
    scope: 'admin',
    query: pageQuery,
    response: page(token),
    handler: (ctx, { query }) => ctx.store.tokens.list({ ...query, kind: 'api' }),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/tokens',
    summary: 'Create an API token; the answer holds its value, shown this once',
    scope: 'admin',
    body: z.strictObject({
      name: tokenName,
      scopes: z.array(tokenScope).min(1, { error: 'give at least one scope: read, write or admin' }),
      expiresAt,
    }),
    response: createdToken,
    status: 201,
    handler: async (ctx, { body }) => {
      const { token: created, secret } = await createToken(ctx.store, { kind: 'api', name: body.name, scopes: [...new Set(body.scopes)], expiresAt: body.expiresAt ?? null });
      return { ...created, token: secret };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/tokens/:id',
    summary: 'Revoke an API token (idempotent); the last admin token cannot be revoked',
    scope: 'admin',
    params: idParam,
    handler: (ctx, { params }) => revoke(ctx, 'api', params.id),
  }),
  defineRoute({
    method: 'GET',
    path: '/api/v1/agent-tokens',
    summary: 'List agent registration tokens, never their values',
    scope: 'admin',
    query: pageQuery,
    response: page(token.omit({ scopes: true })),
    handler: (ctx, { query }) => ctx.store.tokens.list({ ...query, kind: 'agent' }),
  }),
  defineRoute({
    method: 'POST',
    path: '/api/v1/agent-tokens',
    summary: 'Create an agent registration token; the answer holds its value, shown this once',
    scope: 'admin',
    body: z.strictObject({ name: tokenName, expiresAt }),
    response: createdToken.omit({ scopes: true }),
    status: 201,
    handler: async (ctx, { body }) => {
      const { token: created, secret } = await createToken(ctx.store, { kind: 'agent', name: body.name, scopes: [], expiresAt: body.expiresAt ?? null });
      return { ...created, token: secret };
    },
  }),
  defineRoute({
    method: 'DELETE',
    path: '/api/v1/agent-tokens/:id',
    summary: 'Revoke an agent registration token (idempotent)',
    scope: 'admin',
    params: idParam,
    handler: (ctx, { params }) => revoke(ctx, 'agent', params.id),
  }),
];
