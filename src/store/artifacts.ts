import type { Selectable } from 'kysely';
import { SlipwayError } from '../errors/index.js';
import { expectingViolations } from './constraints.js';
import { touched, type StoreContext } from './context.js';
import type { ArtifactsTable } from './database.js';

/** The record of an artifact archive; the bytes live in the server's storage at storagePath. */
export type Artifact = {
  /** Chosen by the caller: random, unguessable (128-bit hex). */
  id: string;
  jobId: number;
  buildId: number;
  /** The attempt number that uploaded it. */
  attempt: number;
  name: string;
  sizeBytes: number;
  fileCount: number;
  /** Relative to the server's artifact directory. */
  storagePath: string;
  /** null: kept until deleted. */
  expiresAt: number | null;
  createdAt: number;
};

export type NewArtifact = Omit<Artifact, 'createdAt' | 'expiresAt'> & { expiresAt?: number | null };

export type Artifacts = {
  /** Throws CONFLICT on a reused id, NOT_FOUND when the job does not exist or belongs to another build. */
  create(input: NewArtifact): Promise<Artifact>;
  get(id: string): Promise<Artifact | null>;
  /** Oldest first. */
  listByJob(jobId: number): Promise<Artifact[]>;
  /** Oldest first. */
  listByBuild(buildId: number): Promise<Artifact[]>;
  /** Artifacts whose expiresAt ≤ now, soonest expired first: for the cleaner, which deletes the file, then the row. */
  expired(now: number, limit: number): Promise<Artifact[]>;
  delete(id: string): Promise<boolean>;
  /** Which of these storage paths (blob ids) an artifact row points at: for the blob collector. */
  referencedPaths(paths: readonly string[]): Promise<Set<string>>;
};

function toArtifact(row: Selectable<ArtifactsTable>): Artifact {
  return {
    id: row.id,
    jobId: row.job_id,
    buildId: row.build_id,
    attempt: row.attempt,
    name: row.name,
    sizeBytes: row.size_bytes,
    fileCount: row.file_count,
    storagePath: row.storage_path,
    expiresAt: row.expires_at,
    createdAt: row.created_at,
  };
}

export function artifacts(ctx: StoreContext): Artifacts {
  const { db } = ctx;
  return {
    async create(input) {
      const missing = `job ${input.jobId} of build ${input.buildId} does not exist`;
      // build_id repeats the job's build (listByBuild needs no join), so it must be that build.
      // A build never changes under its job; a job deleted in between trips the foreign key.
      const job = await db.selectFrom('jobs').select('build_id').where('id', '=', input.jobId).executeTakeFirst();
      if (job?.build_id !== input.buildId) throw new SlipwayError('NOT_FOUND', missing);
      const row = await expectingViolations(
        () =>
          db
            .insertInto('artifacts')
            .values({
              id: input.id,
              job_id: input.jobId,
              build_id: input.buildId,
              attempt: input.attempt,
              name: input.name,
              size_bytes: input.sizeBytes,
              file_count: input.fileCount,
              storage_path: input.storagePath,
              expires_at: input.expiresAt ?? null,
              created_at: ctx.now(),
            })
            .returningAll()
            .executeTakeFirstOrThrow(),
        {
          unique: `an artifact with id ${input.id} already exists; generate a new random id`,
          foreignKey: missing,
        },
      );
      return toArtifact(row);
    },

    async get(id) {
      const row = await db.selectFrom('artifacts').selectAll().where('id', '=', id).executeTakeFirst();
      return row === undefined ? null : toArtifact(row);
    },

    async listByJob(jobId) {
      const rows = await db.selectFrom('artifacts').selectAll().where('job_id', '=', jobId).orderBy('created_at').orderBy('id').execute();
      return rows.map(toArtifact);
    },

    async listByBuild(buildId) {
      const rows = await db.selectFrom('artifacts').selectAll().where('build_id', '=', buildId).orderBy('created_at').orderBy('id').execute();
      return rows.map(toArtifact);
    },

    async expired(now, limit) {
      const rows = await db
        .selectFrom('artifacts')
        .selectAll()
        .where('expires_at', '<=', now)
        .orderBy('expires_at')
        .orderBy('id')
        .limit(limit)
        .execute();
      return rows.map(toArtifact);
    },

    async delete(id) {
      return touched(await db.deleteFrom('artifacts').where('id', '=', id).executeTakeFirst());
    },

    async referencedPaths(paths) {
      if (paths.length === 0) return new Set();
      const rows = await db.selectFrom('artifacts').select('storage_path').distinct().where('storage_path', 'in', paths).execute();
      return new Set(rows.map((row) => row.storage_path));
    },
  };
}
