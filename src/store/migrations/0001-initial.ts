import type { Kysely, Migration } from 'kysely';
import type { DialectName } from '../context.js';
import { columnTypes } from './columns.js';

/** Every table of the first release. Written once: later changes are new migrations. */
export function initial(dialect: DialectName): Migration {
  const t = columnTypes(dialect);
  return {
    async up(db: Kysely<unknown>): Promise<void> {
      await db.schema
        .createTable('projects')
        .addColumn('id', t.id, t.idKey)
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('repository_url', 'text', (c) => c.notNull())
        .addColumn('default_branch', 'text', (c) => c.notNull())
        .addColumn('pipeline_path', 'text', (c) => c.notNull())
        .addColumn('variables', t.json, (c) => c.notNull())
        .addColumn('concurrency_limit', 'integer')
        .addColumn('priority', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('poll_interval_seconds', 'integer')
        .addColumn('last_polled_commit', 'text')
        .addColumn('last_build_number', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .execute();

      await db.schema
        .createTable('project_secrets')
        .addColumn('project_id', t.reference, (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('ciphertext', 'text', (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .addPrimaryKeyConstraint('project_secrets_pk', ['project_id', 'name'])
        .execute();

      await db.schema
        .createTable('schedules')
        .addColumn('id', t.id, t.idKey)
        .addColumn('project_id', t.reference, (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('cron', 'text', (c) => c.notNull())
        .addColumn('ref', 'text', (c) => c.notNull())
        .addColumn('variables', t.json, (c) => c.notNull())
        .addColumn('enabled', t.flag, (c) => c.notNull())
        .addColumn('next_run_at', t.time)
        .addColumn('last_run_at', t.time)
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('schedules_project').on('schedules').column('project_id').execute();
      await db.schema.createIndex('schedules_due').on('schedules').columns(['enabled', 'next_run_at']).execute();

      await db.schema
        .createTable('builds')
        .addColumn('id', t.id, t.idKey)
        .addColumn('project_id', t.reference, (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('ref', 'text', (c) => c.notNull())
        .addColumn('commit_sha', 'text', (c) => c.notNull())
        .addColumn('commit_message', 'text')
        .addColumn('commit_author', 'text')
        .addColumn('source', 'text', (c) => c.notNull())
        .addColumn('trigger_variables', t.json, (c) => c.notNull())
        .addColumn('errors', t.json)
        .addColumn('plan', t.json)
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('started_at', t.time)
        .addColumn('finished_at', t.time)
        .addUniqueConstraint('builds_project_number_unique', ['project_id', 'number'])
        .execute();
      // Lists run newest first by id, within a project, a status or a ref.
      await db.schema.createIndex('builds_project_id').on('builds').columns(['project_id', 'id']).execute();
      await db.schema.createIndex('builds_status_id').on('builds').columns(['status', 'id']).execute();
      await db.schema.createIndex('builds_project_ref_id').on('builds').columns(['project_id', 'ref', 'id']).execute();

      await db.schema
        .createTable('agents')
        .addColumn('id', t.id, t.idKey)
        .addColumn('name', 'text', (c) => c.notNull().unique())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('engine', 'text')
        .addColumn('engine_task_id', 'text')
        .addColumn('labels', t.json, (c) => c.notNull())
        .addColumn('cpus', t.real, (c) => c.notNull())
        .addColumn('memory_mib', 'integer', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('version', 'text')
        .addColumn('last_seen_at', t.time)
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('agents_status_seen').on('agents').columns(['status', 'last_seen_at']).execute();

      await db.schema
        .createTable('jobs')
        .addColumn('id', t.id, t.idKey)
        .addColumn('build_id', t.reference, (c) => c.notNull().references('builds.id').onDelete('cascade'))
        .addColumn('project_id', t.reference, (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('stage', 'text', (c) => c.notNull())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('spec', t.json, (c) => c.notNull())
        .addColumn('labels', t.json, (c) => c.notNull())
        .addColumn('cpus', t.real)
        .addColumn('memory_mib', 'integer')
        .addColumn('priority', 'integer', (c) => c.notNull())
        .addColumn('failure_allowed', t.flag, (c) => c.notNull())
        .addColumn('failure', t.json)
        .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('agent_id', t.reference, (c) => c.references('agents.id').onDelete('set null'))
        .addColumn('queued_at', t.time)
        .addColumn('started_at', t.time)
        .addColumn('finished_at', t.time)
        .addColumn('not_before', t.time)
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addUniqueConstraint('jobs_build_name_unique', ['build_id', 'name'])
        .execute();
      // The queue: pending jobs in dispatch order (priority desc, queued_at asc, id asc).
      await db.schema.createIndex('jobs_queue').on('jobs').columns(['status', 'priority desc', 'queued_at', 'id']).execute();
      await db.schema.createIndex('jobs_project').on('jobs').column('project_id').execute();
      await db.schema.createIndex('jobs_agent').on('jobs').column('agent_id').execute();

      await db.schema
        .createTable('job_attempts')
        .addColumn('id', t.id, t.idKey)
        .addColumn('job_id', t.reference, (c) => c.notNull().references('jobs.id').onDelete('cascade'))
        .addColumn('number', 'integer', (c) => c.notNull())
        .addColumn('agent_id', t.reference, (c) => c.references('agents.id').onDelete('set null'))
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('status', 'text', (c) => c.notNull())
        .addColumn('failure', t.json)
        .addColumn('exit_code', 'integer')
        .addColumn('log_seq', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('started_at', t.time)
        .addColumn('finished_at', t.time)
        .addColumn('revoked_at', t.time)
        .addUniqueConstraint('job_attempts_job_number_unique', ['job_id', 'number'])
        .execute();
      await db.schema.createIndex('job_attempts_agent_status').on('job_attempts').columns(['agent_id', 'status']).execute();
      await db.schema.createIndex('job_attempts_status').on('job_attempts').column('status').execute();

      await db.schema
        .createTable('tokens')
        .addColumn('id', t.id, t.idKey)
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('token_hash', 'text', (c) => c.notNull().unique())
        .addColumn('scopes', t.json, (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('last_used_at', t.time)
        .addColumn('revoked_at', t.time)
        .addColumn('expires_at', t.time)
        .execute();

      // No foreign key on project_id: an event outlives its project.
      await db.schema
        .createTable('events')
        .addColumn('id', t.id, t.idKey)
        .addColumn('type', 'text', (c) => c.notNull())
        .addColumn('project_id', t.reference)
        .addColumn('payload', t.json, (c) => c.notNull())
        .addColumn('created_at', t.time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('events_created').on('events').column('created_at').execute();

      await db.schema
        .createTable('webhook_deliveries')
        .addColumn('project_id', t.reference, (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('provider', 'text', (c) => c.notNull())
        .addColumn('delivery_id', 'text', (c) => c.notNull())
        .addColumn('received_at', t.time, (c) => c.notNull())
        .addPrimaryKeyConstraint('webhook_deliveries_pk', ['project_id', 'provider', 'delivery_id'])
        .execute();
      await db.schema.createIndex('webhook_deliveries_received').on('webhook_deliveries').column('received_at').execute();

      await db.schema
        .createTable('artifacts')
        .addColumn('id', 'text', (c) => c.primaryKey())
        .addColumn('job_id', t.reference, (c) => c.notNull().references('jobs.id').onDelete('cascade'))
        .addColumn('build_id', t.reference, (c) => c.notNull().references('builds.id').onDelete('cascade'))
        .addColumn('attempt', 'integer', (c) => c.notNull())
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('size_bytes', t.bytes, (c) => c.notNull())
        .addColumn('file_count', 'integer', (c) => c.notNull())
        .addColumn('storage_path', 'text', (c) => c.notNull())
        .addColumn('expires_at', t.time)
        .addColumn('created_at', t.time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('artifacts_job').on('artifacts').column('job_id').execute();
      await db.schema.createIndex('artifacts_build').on('artifacts').column('build_id').execute();
      await db.schema.createIndex('artifacts_expires').on('artifacts').column('expires_at').execute();

      await db.schema
        .createTable('caches')
        .addColumn('project_id', t.reference, (c) => c.notNull().references('projects.id').onDelete('cascade'))
        .addColumn('key', 'text', (c) => c.notNull())
        .addColumn('blob_id', 'text', (c) => c.notNull())
        .addColumn('size_bytes', t.bytes, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .addPrimaryKeyConstraint('caches_pk', ['project_id', 'key'])
        .execute();

      await db.schema
        .createTable('engine_launches')
        .addColumn('id', t.id, t.idKey)
        .addColumn('engine', 'text', (c) => c.notNull())
        .addColumn('template', 'text', (c) => c.notNull())
        .addColumn('agent_name', 'text', (c) => c.notNull().unique())
        .addColumn('engine_task_id', 'text')
        .addColumn('state', 'text', (c) => c.notNull())
        .addColumn('error', 'text')
        .addColumn('created_at', t.time, (c) => c.notNull())
        .addColumn('updated_at', t.time, (c) => c.notNull())
        .execute();
      await db.schema.createIndex('engine_launches_engine_state').on('engine_launches').columns(['engine', 'state']).execute();
    },
  };
}
