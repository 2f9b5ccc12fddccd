import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../context.js';
import { columnTypes } from './columns.js';

/**
 * What a build knows of its ref and commit (tag builds, CI_COMMIT_* variables), when its
 * logs expired, when an attempt last made progress, and the lookups the blob collector
 * makes. Only added columns and indexes: the same statements on both databases.
 */
export function buildCommits(dialect: DialectName): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      // Builds stored before this migration ran as branch builds: the default keeps them so.
      await db.schema.alterTable('builds').addColumn('ref_kind', 'text', (c) => c.notNull().defaultTo('branch')).execute();
      await db.schema.alterTable('builds').addColumn('commit_timestamp', t.time).execute();
      await db.schema.alterTable('builds').addColumn('before_sha', 'text').execute();
      await db.schema.alterTable('builds').addColumn('logs_expired_at', t.time).execute();
      // The log sweep asks for finished builds whose logs are still kept, oldest first.
      await db.schema.createIndex('builds_logs_finished').on('builds').columns(['logs_expired_at', 'finished_at']).execute();

      await db.schema.alterTable('job_attempts').addColumn('last_progress_at', t.time).execute();

      // The blob collector asks which of a batch of blobs rows still point at.
      await db.schema.createIndex('artifacts_storage_path').on('artifacts').column('storage_path').execute();
      await db.schema.createIndex('caches_blob').on('caches').column('blob_id').execute();
    },
  };
}
