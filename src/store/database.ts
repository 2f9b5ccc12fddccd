import type { Generated } from 'kysely';

/**
 * The tables as the database holds them (snake_case). Times are integer milliseconds since
 * the epoch, JSON columns are text, booleans are 0/1: the same on SQLite and PostgreSQL.
 * The records the store hands out (camelCase, parsed) are declared next to each module.
 */
export type Database = {
  projects: ProjectsTable;
  project_secrets: ProjectSecretsTable;
  schedules: SchedulesTable;
  builds: BuildsTable;
  jobs: JobsTable;
  job_attempts: JobAttemptsTable;
  agents: AgentsTable;
  tokens: TokensTable;
  events: EventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  artifacts: ArtifactsTable;
  caches: CachesTable;
  engine_launches: EngineLaunchesTable;
  capacity_samples: CapacitySamplesTable;
};

export type CapacitySamplesTable = {
  id: Generated<number>;
  at: number;
  busy: number;
  idle: number;
  provisioning: number;
  cpus_in_use: number;
  memory_mib_in_use: number;
};

export type ProjectsTable = {
  id: Generated<number>;
  name: string;
  repository_url: string;
  default_branch: string;
  pipeline_path: string;
  variables: string;
  concurrency_limit: number | null;
  priority: number;
  poll_interval_seconds: number | null;
  last_polled_commit: string | null;
  /** The number the last build of this project got; builds.create increments it. */
  last_build_number: Generated<number>;
  created_at: number;
  updated_at: number;
};

export type ProjectSecretsTable = {
  project_id: number;
  name: string;
  ciphertext: string;
  updated_at: number;
};

export type SchedulesTable = {
  id: Generated<number>;
  project_id: number;
  cron: string;
  ref: string;
  variables: string;
  enabled: number;
  next_run_at: number | null;
  last_run_at: number | null;
  created_at: number;
  updated_at: number;
};

export type BuildsTable = {
  id: Generated<number>;
  project_id: number;
  number: number;
  status: string;
  ref: string;
  commit_sha: string;
  commit_message: string | null;
  commit_author: string | null;
  /** 'branch', 'tag' or 'commit'. */
  ref_kind: Generated<string>;
  commit_timestamp: number | null;
  before_sha: string | null;
  source: string;
  trigger_variables: string;
  errors: string | null;
  plan: string | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  logs_expired_at: number | null;
};

export type JobsTable = {
  id: Generated<number>;
  build_id: number;
  project_id: number;
  name: string;
  stage: string;
  status: string;
  spec: string;
  labels: string;
  cpus: number | null;
  memory_mib: number | null;
  priority: number;
  failure_allowed: number;
  failure: string | null;
  attempts: number;
  agent_id: number | null;
  queued_at: number | null;
  started_at: number | null;
  finished_at: number | null;
  not_before: number | null;
  created_at: number;
};

export type JobAttemptsTable = {
  id: Generated<number>;
  job_id: number;
  number: number;
  agent_id: number | null;
  token_hash: string;
  status: string;
  failure: string | null;
  exit_code: number | null;
  log_seq: number;
  last_progress_at: number | null;
  created_at: number;
  started_at: number | null;
  finished_at: number | null;
  revoked_at: number | null;
  cancel_reason: string | null;
};

export type AgentsTable = {
  id: Generated<number>;
  name: string;
  kind: string;
  engine: string | null;
  engine_task_id: string | null;
  labels: string;
  cpus: number;
  memory_mib: number;
  status: string;
  version: string | null;
  last_seen_at: number | null;
  created_at: number;
  updated_at: number;
};

export type TokensTable = {
  id: Generated<number>;
  kind: string;
  name: string;
  token_hash: string;
  scopes: string;
  created_at: number;
  last_used_at: number | null;
  revoked_at: number | null;
  expires_at: number | null;
};

export type EventsTable = {
  id: Generated<number>;
  type: string;
  project_id: number | null;
  payload: string;
  created_at: number;
};

export type WebhookDeliveriesTable = {
  project_id: number;
  provider: string;
  delivery_id: string;
  received_at: number;
};

export type ArtifactsTable = {
  id: string;
  job_id: number;
  build_id: number;
  attempt: number;
  name: string;
  size_bytes: number;
  file_count: number;
  storage_path: string;
  expires_at: number | null;
  created_at: number;
};

export type CachesTable = {
  project_id: number;
  key: string;
  blob_id: string;
  size_bytes: number;
  updated_at: number;
};

export type EngineLaunchesTable = {
  id: Generated<number>;
  engine: string;
  template: string;
  agent_name: string;
  engine_task_id: string | null;
  state: string;
  error: string | null;
  image: string | null;
  jobs_run: Generated<number>;
  created_at: number;
  updated_at: number;
};
