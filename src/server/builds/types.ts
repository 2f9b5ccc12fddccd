import type { FailureReason } from '../../executor/index.js';

/**
 * The build controller: the one place that moves builds and jobs between states. Every
 * transition is a store transaction (compare-and-set on the status) that also appends
 * its events; after it commits, the controller tells the EventBus. Job readiness, skips
 * and the build outcome come from pipeline.nextSteps, so the server and `slipway run`
 * agree on every build.
 *
 * Who calls what:
 *  - HTTP routes, cron, webhooks, polling → trigger(), cancelBuild(), retryJob(), retryBuild(), playJob().
 *  - The agent endpoint (dispatcher) → attemptStarted(), attemptFinished(), attemptLost().
 *  - A timer → tick(now): delayed jobs whose start_in passed become pending; running jobs
 *    with no progress for agents.noProgressTimeoutMs fail with their own reason.
 * All methods are safe to call concurrently and idempotent where the name says so: a
 * finished report for an attempt that already ended changes nothing (fencing).
 */

export type TriggerInput = {
  projectId: number;
  /** Branch, tag or commit; the project's default branch when null. */
  ref: string | null;
  variables: Record<string, string>;
  /** api, web, schedule, webhook, poll, retry. */
  source: string;
  /** For push webhooks: the commit the ref pointed at before, for `changes:` rules. */
  beforeSha?: string | null;
  /** For push webhooks: the pushed commit, when the payload names it. */
  commitSha?: string | null;
};

export type AttemptReport = {
  attemptId: number;
  status: 'success' | 'failed' | 'canceled';
  failure: FailureReason | null;
  exitCode: number | null;
};

/** An attempt that ended, as onAttemptEnded tells it (after its transaction committed). */
export type AttemptEnded = {
  attemptId: number;
  agentId: number | null;
  /** canceled: its job was canceled (whatever the agent reported). */
  status: 'success' | 'failed' | 'canceled' | 'lost';
  /** The failure's kind (timeout, script_failure, system_failure, agent_lost...), null on success. */
  failureKind: string | null;
};

export type BuildController = {
  /** Resolves the ref, reads and plans the pipeline file, stores the build and its jobs. An invalid file gives a build in state `error` with the positioned messages. */
  trigger(input: TriggerInput): Promise<{ buildId: number; number: number; status: string }>;
  attemptStarted(attemptId: number): Promise<void>;
  /** Applies retry (retry.when incl. script_failure/timeout/system_failure), allow_failure, then nextSteps. */
  attemptFinished(report: AttemptReport): Promise<void>;
  /** The agent running it was lost: retried when retry.when allows agent_lost, else failed with "agent lost". */
  attemptLost(attemptId: number): Promise<void>;
  cancelBuild(buildId: number): Promise<void>;
  cancelJob(jobId: number): Promise<void>;
  retryJob(jobId: number): Promise<void>;
  retryBuild(buildId: number): Promise<{ buildId: number }>;
  playJob(jobId: number): Promise<void>;
  tick(now: number): Promise<void>;
  /** Attempts that must be told to stop (their job was canceled); the dispatcher drains this. */
  onCancelAttempt(listener: (attemptId: number, reason: string) => void): () => void;
  /** Hears every attempt end once (finished, canceled, timed out, lost): the engine manager stops its services and retires its container. Listeners must not throw. */
  onAttemptEnded(listener: (ended: AttemptEnded) => void): () => void;
};
