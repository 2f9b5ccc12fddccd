import type { Kysely, Migration } from 'kysely';

/**
 * Why an attempt was told to stop. Stored with the cancel that asked for it, so a server
 * killed after acknowledging a cancel still ends the job as canceled, and tells the agent
 * again when it reconnects.
 */
export function attemptCancel(): Migration {
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema.alterTable('job_attempts').addColumn('cancel_reason', 'text').execute();
    },
  };
}
