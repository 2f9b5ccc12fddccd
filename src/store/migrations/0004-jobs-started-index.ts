import type { Kysely, Migration } from 'kysely';

/** Jobs by start time: the queue-wait statistics read the jobs started in the last hour (store.stats.queueWaits). */
export function jobsStartedIndex(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.createIndex('jobs_started').on('jobs').column('started_at').execute();
    },
  };
}
