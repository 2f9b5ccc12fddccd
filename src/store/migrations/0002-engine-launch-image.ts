import type { Kysely, Migration } from 'kysely';

/**
 * Engine launches remember the image an agent was launched with (a job's, replacing its
 * template's) and how many jobs it ran, so that agents adopted after a restart keep both:
 * their image for matching, their count for maxJobsPerAgent.
 */
export function engineLaunchImage(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('engine_launches').addColumn('image', 'text').execute();
      await db.schema.alterTable('engine_launches').addColumn('jobs_run', 'integer', (c) => c.notNull().defaultTo(0)).execute();
    },
  };
}
