import { Migrator, type Kysely, type Migration } from 'kysely';
import { SlipwayError, messageOf } from '../../errors/index.js';
import type { DialectName } from '../context.js';
import type { StoreLogger } from '../logger.js';
import { initial } from './0001-initial.js';
import { engineLaunchImage } from './0002-engine-launch-image.js';
import { buildCommits } from './0003-build-commits.js';
import { jobsStartedIndex } from './0004-jobs-started-index.js';
import { attemptCancel } from './0005-attempt-cancel.js';
import { capacitySamples } from './0006-capacity-samples.js';

/**
 * Migrations in the order they apply; the key is the name recorded in kysely_migration.
 * Never edit or rename one that has shipped: add the next.
 */
function migrations(dialect: DialectName): Record<string, Migration> {
  return {
    '0001-initial': initial(dialect),
    '0002-engine-launch-image': engineLaunchImage(),
    '0003-build-commits': buildCommits(dialect),
    '0004-jobs-started-index': jobsStartedIndex(),
    '0005-attempt-cancel': attemptCancel(),
    '0006-capacity-samples': capacitySamples(dialect),
  };
}

/**
 * Brings the database up to the latest migration, all pending ones in one transaction.
 * Safe to run from two processes at once: Kysely takes a lock (PostgreSQL: an advisory
 * lock; SQLite: the IMMEDIATE transaction), and a second run finds nothing to do.
 */
export async function migrate(
  db: Kysely<unknown>,
  dialect: DialectName,
  migrationTableSchema: string | undefined,
  logger: StoreLogger,
): Promise<void> {
  const migrator = new Migrator({
    db,
    provider: { getMigrations: async () => migrations(dialect) },
    ...(migrationTableSchema === undefined ? {} : { migrationTableSchema }),
  });
  const { error, results } = await migrator.migrateToLatest();
  for (const result of results ?? []) {
    if (result.status === 'Success') logger.info({ migration: result.migrationName }, 'applied database migration');
  }
  if (error !== undefined) {
    const failed = results?.find((result) => result.status === 'Error')?.migrationName;
    throw new SlipwayError(
      'INTERNAL',
      `database migration ${failed ?? '(before any migration ran)'} failed, nothing was changed: ${messageOf(error)}`,
      { cause: error },
    );
  }
}
