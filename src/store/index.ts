/**
 * The server's database: one query layer over SQLite and PostgreSQL (Kysely), migrations,
 * and one module of small named operations per table group. See docs/store.md.
 */
export { openStore, parseStoreUrl, redactUrl, type StoreOptions } from './open.js';
export type { Store, StoreTransaction } from './store.js';
export type { DialectName } from './context.js';
export type { StoreLogger } from './logger.js';
export type { Page, PageRequest } from './pagination.js';
export type { Project, NewProject, ProjectPatch, Projects } from './projects.js';
export type { Secrets } from './secrets.js';
export type { Schedule, NewSchedule, SchedulePatch, Schedules } from './schedules.js';
export {
  activeBuildStatuses,
  finishedBuildStatuses,
  type Build,
  type BuildError,
  type BuildFilter,
  type BuildSource,
  type BuildStatus,
  type Builds,
  type NewBuild,
  type RefKind,
} from './builds.js';
export { finishedJobStatuses, type Failure, type FailureKind, type Job, type JobStatus, type Jobs, type NewJob, type QueueStats } from './jobs.js';
export { activeAttemptStatuses, type AttemptResult, type AttemptStatus, type Attempts, type JobAttempt } from './attempts.js';
export type { Agent, AgentKind, AgentRegistration, AgentStatus, Agents } from './agents.js';
export type { Token, TokenKind, TokenScope, Tokens } from './tokens.js';
export type { Events, StoredEvent } from './events.js';
export type { WebhookDeliveries } from './webhook-deliveries.js';
export type { Artifact, Artifacts, NewArtifact } from './artifacts.js';
export type { CacheEntry, Caches } from './caches.js';
export type { RunningJob, Stats } from './stats.js';
export type { CapacitySample, CapacitySamples } from './capacity-samples.js';
export { activeLaunchStates, type EngineLaunch, type EngineLaunches, type LaunchState } from './engine-launches.js';
