import { SlipwayError } from '../../errors/index.js';
import type { Store, StoreTransaction, Token, TokenKind, TokenScope } from '../../store/index.js';
import { hashToken, newToken } from '../crypto/index.js';
import type { Scope } from './route.js';

const rank: Record<TokenScope, number> = { read: 1, write: 2, admin: 3 };

/** admin ⊇ write ⊇ read: whether a token with these scopes may call a route that needs `needed`. */
export function allows(scopes: readonly TokenScope[], needed: Scope): boolean {
  if (needed === 'public') return true;
  // An attempt's token is not an API token: no API scope opens the agent's file routes.
  if (needed === 'attempt') return false;
  return scopes.some((scope) => rank[scope] >= rank[needed]);
}

const bearer = /^Bearer\s+(\S+)\s*$/i;

/**
 * The API token an `Authorization: Bearer ...` header names, if it is an active API token
 * (agent registration tokens do not open the API). Records the use (at most once a minute,
 * see store.tokens.touch). Throws UNAUTHORIZED otherwise.
 */
export async function authenticate(store: Store, header: string | undefined, now: number): Promise<Token> {
  const presented = header === undefined ? null : (bearer.exec(header)?.[1] ?? null);
  if (presented === null) {
    throw new SlipwayError('UNAUTHORIZED', 'send an API token in Authorization: Bearer <token>; an admin creates one with slipway tokens create');
  }
  const token = await store.tokens.findActiveByHash(hashToken(presented), now);
  if (token === null || token.kind !== 'api') {
    throw new SlipwayError('UNAUTHORIZED', 'send an API token in Authorization: Bearer <token>; this one is unknown, revoked or expired');
  }
  await store.tokens.touch(token.id, now);
  return token;
}

export function authorize(token: Token, needed: Scope, what: string): void {
  if (!allows(token.scopes, needed)) {
    throw new SlipwayError('FORBIDDEN', `${what} needs a token with the ${needed} scope; this token has ${token.scopes.join(', ') || 'no scopes'}`);
  }
}

/** Makes a token; the raw value is returned here once and only its hash is stored. */
export async function createToken(
  store: Pick<StoreTransaction, 'tokens'>,
  input: { kind: TokenKind; name: string; scopes: TokenScope[]; expiresAt?: number | null },
): Promise<{ token: Token; secret: string }> {
  const secret = newToken(input.kind);
  const token = await store.tokens.create({ ...input, tokenHash: hashToken(secret) });
  return { token, secret };
}

/**
 * First start: when no active admin token exists, makes one and returns its value for the
 * caller to show once. Null when there is one already.
 */
export async function bootstrapAdminToken(store: Store, now: number): Promise<string | null> {
  if ((await store.tokens.countAdmins(now)) > 0) return null;
  const { secret } = await createToken(store, { kind: 'api', name: 'admin (created on first start)', scopes: ['admin'] });
  return secret;
}
