import type { Selectable } from 'kysely';
import { SlipwayError } from '../errors/index.js';
import { expectingViolations } from './constraints.js';
import { touched, type StoreContext } from './context.js';
import type { CachesTable } from './database.js';
import { decodeCursor, pageLimit, toPage, type Page, type PageRequest } from './pagination.js';

/** Which blob holds a project's cache for a key; the blob itself lives in the server's storage. */
export type CacheEntry = {
  projectId: number;
  key: string;
  blobId: string;
  sizeBytes: number;
  updatedAt: number;
};

export type Caches = {
  /**
   * Points the key at a new blob. Returns the blob it pointed at before, for the caller to
   * delete; null when there was none (or it was this same blob). Concurrent puts of one key
   * each get a different previous blob, so no blob is deleted twice or leaked.
   * Throws NOT_FOUND for a missing project.
   */
  put(input: { projectId: number; key: string; blobId: string; sizeBytes: number }): Promise<{ previousBlobId: string | null }>;
  get(projectId: number, key: string): Promise<CacheEntry | null>;
  /** By key. */
  list(projectId: number, page?: PageRequest): Promise<Page<CacheEntry>>;
  /** Returns the blob of the removed entry, for the caller to delete; null when there was none. */
  delete(projectId: number, key: string): Promise<string | null>;
  /** Which of these blob ids a cache entry points at: for the blob collector. */
  referencedBlobs(blobIds: readonly string[]): Promise<Set<string>>;
};

function toEntry(row: Selectable<CachesTable>): CacheEntry {
  return { projectId: row.project_id, key: row.key, blobId: row.blob_id, sizeBytes: row.size_bytes, updatedAt: row.updated_at };
}

// Each round loses only to another writer of the same key that made progress; ten
// consecutive losses means something is rewriting the key in a loop.
const maxPutRounds = 10;

export function caches(ctx: StoreContext): Caches {
  const { db } = ctx;
  return {
    async put({ projectId, key, blobId, sizeBytes }) {
      // Insert-or-compare-and-set rather than read-then-upsert: the previous blob id must be
      // the one this write replaced, even when another put of the key runs concurrently.
      for (let round = 0; round < maxPutRounds; round++) {
        const now = ctx.now();
        const inserted = await expectingViolations(
          () =>
            db
              .insertInto('caches')
              .values({ project_id: projectId, key, blob_id: blobId, size_bytes: sizeBytes, updated_at: now })
              .onConflict((oc) => oc.doNothing())
              .executeTakeFirst(),
          { foreignKey: `project ${projectId} does not exist` },
        );
        if ((inserted.numInsertedOrUpdatedRows ?? 0n) > 0n) return { previousBlobId: null };
        const current = await db
          .selectFrom('caches')
          .select('blob_id')
          .where('project_id', '=', projectId)
          .where('key', '=', key)
          .executeTakeFirst();
        if (current === undefined) continue; // deleted in between: insert again
        const replaced = await db
          .updateTable('caches')
          .set({ blob_id: blobId, size_bytes: sizeBytes, updated_at: now })
          .where('project_id', '=', projectId)
          .where('key', '=', key)
          .where('blob_id', '=', current.blob_id)
          .executeTakeFirst();
        if (touched(replaced)) return { previousBlobId: current.blob_id === blobId ? null : current.blob_id };
      }
      throw new SlipwayError('INTERNAL', `cache key "${key}" of project ${projectId} kept changing during ${maxPutRounds} attempts to replace it`);
    },

    async get(projectId, key) {
      const row = await db
        .selectFrom('caches')
        .selectAll()
        .where('project_id', '=', projectId)
        .where('key', '=', key)
        .executeTakeFirst();
      return row === undefined ? null : toEntry(row);
    },

    async list(projectId, page = {}) {
      const limit = pageLimit(page);
      const after = decodeCursor('caches', page.cursor, 'string');
      let query = db.selectFrom('caches').selectAll().where('project_id', '=', projectId).orderBy('key').limit(limit + 1);
      if (after !== null) query = query.where('key', '>', after);
      return toPage(await query.execute(), limit, 'caches', (row) => row.key, toEntry);
    },

    async delete(projectId, key) {
      const row = await db
        .deleteFrom('caches')
        .where('project_id', '=', projectId)
        .where('key', '=', key)
        .returning('blob_id')
        .executeTakeFirst();
      return row?.blob_id ?? null;
    },

    async referencedBlobs(blobIds) {
      if (blobIds.length === 0) return new Set();
      const rows = await db.selectFrom('caches').select('blob_id').distinct().where('blob_id', 'in', blobIds).execute();
      return new Set(rows.map((row) => row.blob_id));
    },
  };
}
