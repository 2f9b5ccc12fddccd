import type { Selectable } from 'kysely';
import { expectingViolations } from './constraints.js';
import { touched, type StoreContext } from './context.js';
import type { TokensTable } from './database.js';
import { decodeCursor, pageLimit, toPage, type Page, type PageRequest } from './pagination.js';
import { fromJson, toJson } from './values.js';

/** api: a person's or program's API token; agent: lets an agent register. */
export type TokenKind = 'api' | 'agent';

export type TokenScope = 'read' | 'write' | 'admin';

/** A token as listed: never its hash (and the raw token is never stored at all). */
export type Token = {
  id: number;
  kind: TokenKind;
  name: string;
  scopes: TokenScope[];
  createdAt: number;
  lastUsedAt: number | null;
  revokedAt: number | null;
  expiresAt: number | null;
};

export type Tokens = {
  /** tokenHash: sha256 hex of the random token the caller gives to the user once. Throws CONFLICT on a reused hash. */
  create(input: { kind: TokenKind; name: string; tokenHash: string; scopes: TokenScope[]; expiresAt?: number | null }): Promise<Token>;
  get(id: number): Promise<Token | null>;
  /** The token this hash belongs to if it is neither revoked nor expired at `now`. */
  findActiveByHash(tokenHash: string, now: number): Promise<Token | null>;
  /**
   * Records a use at `now`, at most once a minute: a busy client does not turn every read
   * into a write. True if it wrote.
   */
  touch(id: number, now: number): Promise<boolean>;
  /** False if already revoked or unknown. */
  revoke(id: number): Promise<boolean>;
  /** By id, revoked ones included. */
  list(filter?: { kind?: TokenKind } & PageRequest): Promise<Page<Token>>;
  /** Active API tokens with the admin scope: the last one must not be revoked. */
  countAdmins(now: number): Promise<number>;
};

const touchIntervalMs = 60_000;

function toToken(row: Omit<Selectable<TokensTable>, 'token_hash'>): Token {
  return {
    id: row.id,
    kind: row.kind as TokenKind,
    name: row.name,
    scopes: fromJson(row.scopes, 'tokens.scopes'),
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
    expiresAt: row.expires_at,
  };
}

const listed = ['id', 'kind', 'name', 'scopes', 'created_at', 'last_used_at', 'revoked_at', 'expires_at'] as const;

export function tokens(ctx: StoreContext): Tokens {
  const { db } = ctx;

  /** Tokens neither revoked nor expired at `now`. */
  function active(now: number) {
    return db
      .selectFrom('tokens')
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('expires_at', 'is', null), eb('expires_at', '>', now)]));
  }

  return {
    async create(input) {
      const row = await expectingViolations(
        () =>
          db
            .insertInto('tokens')
            .values({
              kind: input.kind,
              name: input.name,
              token_hash: input.tokenHash,
              scopes: toJson(input.scopes),
              created_at: ctx.now(),
              last_used_at: null,
              revoked_at: null,
              expires_at: input.expiresAt ?? null,
            })
            .returning(listed)
            .executeTakeFirstOrThrow(),
        { unique: 'this token hash is already in use; generate a new random token' },
      );
      return toToken(row);
    },

    async get(id) {
      const row = await db.selectFrom('tokens').select(listed).where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toToken(row);
    },

    async findActiveByHash(tokenHash, now) {
      const row = await active(now).select(listed).where('token_hash', '=', tokenHash).executeTakeFirst();
      return row === undefined ? null : toToken(row);
    },

    async touch(id, now) {
      const result = await db
        .updateTable('tokens')
        .set({ last_used_at: now })
        .where('id', '=', id)
        .where((eb) => eb.or([eb('last_used_at', 'is', null), eb('last_used_at', '<=', now - touchIntervalMs)]))
        .executeTakeFirst();
      return touched(result);
    },

    async revoke(id) {
      const result = await db
        .updateTable('tokens')
        .set({ revoked_at: ctx.now() })
        .where('id', '=', id)
        .where('revoked_at', 'is', null)
        .executeTakeFirst();
      return touched(result);
    },

    async list(filter = {}) {
      const limit = pageLimit(filter);
      const after = decodeCursor('tokens', filter.cursor, 'number');
      let query = db.selectFrom('tokens').select(listed).orderBy('id').limit(limit + 1);
      if (filter.kind !== undefined) query = query.where('kind', '=', filter.kind);
      if (after !== null) query = query.where('id', '>', after);
      return toPage(await query.execute(), limit, 'tokens', (row) => row.id, toToken);
    },

    async countAdmins(now) {
      // scopes is a JSON array of known words, so matching the quoted word is exact.
      const row = await active(now)
        .select((eb) => eb.fn.countAll<number>().as('admins'))
        .where('kind', '=', 'api')
        .where('scopes', 'like', '%"admin"%')
        .executeTakeFirstOrThrow();
      return Number(row.admins);
    },
  };
}
