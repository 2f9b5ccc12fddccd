import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../context.js';
import { columnTypes } from './columns.js';

/** Samples of the fleet for the capacity graph (store.capacitySamples), read by time. */
export function capacitySamples(dialect: DialectName): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('capacity_samples')
        .addColumn('id', t.id, t.idKey)
        .addColumn('at', t.time, (c) => c.notNull())
        .addColumn('busy', 'integer', (c) => c.notNull())
        .addColumn('idle', 'integer', (c) => c.notNull())
        .addColumn('provisioning', 'integer', (c) => c.notNull())
        .addColumn('cpus_in_use', t.real, (c) => c.notNull())
        .addColumn('memory_mib_in_use', 'integer', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('capacity_samples_at').on('capacity_samples').column('at').execute();
    },
  };
}
