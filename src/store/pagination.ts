import { SlipwayError } from '../errors/index.js';

export type PageRequest = {
  /** 1–500; 50 when left out. */
  limit?: number;
  /** The nextCursor of the previous page; absent or null for the first page. */
  cursor?: string | null;
};

export type Page<T> = {
  items: T[];
  /** Pass back as cursor for the next page; null on the last page. */
  nextCursor: string | null;
};

const defaultLimit = 50;
const maxLimit = 500;

export function pageLimit(request: PageRequest): number {
  const limit = request.limit ?? defaultLimit;
  if (!Number.isInteger(limit) || limit < 1 || limit > maxLimit) {
    throw new SlipwayError('USAGE', `page limit must be an integer from 1 to ${maxLimit}, not ${limit}`);
  }
  return limit;
}

/**
 * Cursors are opaque to callers: base64url of the list they belong to and the sort key of
 * the last row served. Keyset, not offset: rows inserted while a client pages through do
 * not shift the pages it has not read yet.
 */
function encodeCursor(list: string, key: string | number): string {
  return Buffer.from(JSON.stringify([list, key])).toString('base64url');
}

export function decodeCursor<K extends 'string' | 'number'>(
  list: string,
  cursor: string | null | undefined,
  keyType: K,
): (K extends 'string' ? string : number) | null {
  if (cursor === undefined || cursor === null) return null;
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch (error) {
    throw new SlipwayError('USAGE', 'invalid page cursor: pass the nextCursor of the previous page unchanged', { cause: error });
  }
  if (!Array.isArray(decoded) || decoded.length !== 2 || decoded[0] !== list || typeof decoded[1] !== keyType) {
    throw new SlipwayError('USAGE', `this cursor does not belong to the ${list} list: pass the nextCursor of the previous page of the same list`);
  }
  return decoded[1] as K extends 'string' ? string : number;
}

/** rows holds up to limit + 1 rows: the extra one only says that another page exists. */
export function toPage<Row, T>(
  rows: Row[],
  limit: number,
  list: string,
  keyOf: (row: Row) => string | number,
  map: (row: Row) => T,
): Page<T> {
  const served = rows.slice(0, limit);
  const last = served[served.length - 1];
  const nextCursor = rows.length > limit && last !== undefined ? encodeCursor(list, keyOf(last)) : null;
  return { items: served.map(map), nextCursor };
}
