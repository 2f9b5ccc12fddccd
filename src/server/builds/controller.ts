import { SlipwayError } from '../../errors/index.js';
import type { FailureReason } from '../../executor/index.js';
import { nextSteps, type JobProgress, type JobSpec, type Plan } from '../../pipeline/index.js';
import type { Build, BuildStatus, Failure, Job, JobAttempt, JobStatus, Store, StoreTransaction } from '../../store/index.js';
import { activeBuildStatuses, finishedBuildStatuses } from '../../store/index.js';
import type { ServerConfig } from '../config/index.js';
import type { EventBus, EventType, ServerEvent } from '../events/index.js';
import { toServerEvent } from '../events/index.js';
import type { GitMirrors, ResolvedRef } from '../git/index.js';
import { isPlan, prepareBuild } from './prepare.js';
import type { AttemptEnded, AttemptReport, BuildController, TriggerInput } from './types.js';

export type BuildControllerOptions = {
  store: Store;
  events: EventBus;
  git: GitMirrors;
  config: ServerConfig;
  /** Milliseconds since the epoch; for notBefore and timeouts (the store stamps its own times). */
  now: () => number;
};

type PendingEvent = { type: EventType; projectId: number; payload: Record<string, unknown> };
type Emit = (event: PendingEvent) => void;

const waiting: readonly JobStatus[] = ['created', 'pending', 'manual', 'scheduled'];
const retriable: readonly JobStatus[] = ['failed', 'canceled'];

/** Whether a failed job's allow_failure covers this failure. */
export function failureAllowed(job: Pick<Job, 'status' | 'failure' | 'spec'>): boolean {
  if (job.status !== 'failed' || job.failure === null) return false;
  const allow = (job.spec as JobSpec).allowFailure;
  if (allow === false) return false;
  if (allow.exitCodes === null) return true;
  return job.failure.kind === 'script_failure' && job.failure.exitCode !== undefined && allow.exitCodes.includes(job.failure.exitCode);
}

export function jobEvent(job: Job, status: JobStatus, extra: Record<string, unknown> = {}): PendingEvent {
  return {
    type: 'job.updated',
    projectId: job.projectId,
    payload: { buildId: job.buildId, jobId: job.id, name: job.name, stage: job.stage, status, ...extra },
  };
}

function buildEvent(build: Build, status: BuildStatus, type: EventType = 'build.updated'): PendingEvent {
  return { type, projectId: build.projectId, payload: { buildId: build.id, number: build.number, status, ref: build.ref, commitSha: build.commitSha } };
}

function toFailure(reason: FailureReason | null, exitCode: number | null): Failure | null {
  if (reason === null) return null;
  if (reason.kind === 'script_failure') return { kind: 'script_failure', message: reason.message, exitCode: reason.exitCode };
  if (reason.kind === 'canceled') return null;
  return { kind: reason.kind, message: reason.message, ...(exitCode === null ? {} : { exitCode }) };
}

/** A duration as a person says it: minutes, or seconds below a minute. */
function spoken(ms: number): string {
  if (ms < 60_000) return `${Math.round(ms / 1000)} seconds`;
  const minutes = Math.round(ms / 60_000);
  return minutes === 1 ? '1 minute' : `${minutes} minutes`;
}

export function createBuildController(options: BuildControllerOptions): BuildController {
  const { store, events, git, config, now } = options;
  const cancelListeners = new Set<(attemptId: number, reason: string) => void>();
  const endListeners = new Set<(ended: AttemptEnded) => void>();
  function tellEnded(ended: AttemptEnded): void {
    for (const listener of [...endListeners]) listener(ended);
  }
  const buildLocks = new Map<number, Promise<unknown>>();
  const bootAt = now();

  /** In-process turn-taking per build; the row lock in `locked` does the same across processes. */
  function serialized<T>(buildId: number, fn: () => Promise<T>): Promise<T> {
    const previous = buildLocks.get(buildId) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.then(() => undefined, () => undefined);
    buildLocks.set(buildId, settled);
    void settled.then(() => {
      if (buildLocks.get(buildId) === settled) buildLocks.delete(buildId);
    });
    return next;
  }

  /** Runs fn in a transaction whose events are appended as its last writes and told to the bus after commit. */
  async function transaction<T>(fn: (tx: StoreTransaction, emit: Emit) => Promise<T>): Promise<T> {
    let stored: ServerEvent[] = [];
    const result = await store.transaction(async (tx) => {
      const pending: PendingEvent[] = [];
      const value = await fn(tx, (event) => pending.push(event));
      stored = [];
      for (const event of pending) stored.push(toServerEvent(await tx.events.append(event)));
      return value;
    });
    events.notify(stored);
    return result;
  }

  /**
   * Reads the build and takes its row lock (an update to its own status): on PostgreSQL a
   * concurrent transaction on the same build waits here, so each sees the other's jobs.
   */
  async function locked(tx: StoreTransaction, buildId: number): Promise<Build> {
    for (;;) {
      const build = await tx.builds.get(buildId);
      if (build === null) throw new SlipwayError('NOT_FOUND', `there is no build ${buildId}`);
      if (await tx.builds.setStatus({ id: build.id, from: [build.status], to: build.status })) {
        return build;
      }
    }
  }

  function onBuild<T>(buildId: number, fn: (tx: StoreTransaction, build: Build, emit: Emit) => Promise<T>): Promise<T> {
    return serialized(buildId, () => transaction(async (tx, emit) => fn(tx, await lockedOrFinished(tx, buildId), emit)));
  }

  /** Like locked(), without re-stamping finishedAt of a finished build (its lock is the later status change). */
  async function lockedOrFinished(tx: StoreTransaction, buildId: number): Promise<Build> {
    const build = await tx.builds.get(buildId);
    if (build === null) throw new SlipwayError('NOT_FOUND', `there is no build ${buildId}`);
    return finishedBuildStatuses.includes(build.status) ? build : locked(tx, buildId);
  }

  async function setBuild(tx: StoreTransaction, build: Build, from: readonly BuildStatus[], to: BuildStatus, emit: Emit): Promise<boolean> {
    if (build.status === to || !(await tx.builds.setStatus({ id: build.id, from, to }))) return false;
    build.status = to;
    emit(buildEvent(build, to));
    return true;
  }

  /** Moves the build forward with nextSteps: queues, skips, holds jobs; finishes the build when nothing is left. */
  async function advance(tx: StoreTransaction, build: Build, emit: Emit): Promise<void> {
    if (!isPlan(build.plan)) return;
    const plan: Plan = build.plan;
    const jobs = await tx.jobs.listByBuild(build.id);
    const byName = new Map(jobs.map((job) => [job.name, job]));
    const progress = new Map<string, JobProgress>(jobs.map((job) => [job.name, { status: job.status, failureAllowed: failureAllowed(job) }]));
    const steps = nextSteps(plan, progress);
    for (const name of steps.start) {
      const job = byName.get(name);
      if (job !== undefined && (await tx.jobs.setPending({ id: job.id, from: ['created'] }))) emit(jobEvent(job, 'pending'));
    }
    for (const name of steps.skip) {
      const job = byName.get(name);
      if (job !== undefined && (await tx.jobs.setStatus({ id: job.id, from: ['created'], to: 'skipped' }))) emit(jobEvent(job, 'skipped'));
    }
    for (const name of steps.manual) {
      const job = byName.get(name);
      if (job !== undefined && (await tx.jobs.setStatus({ id: job.id, from: ['created'], to: 'manual' }))) emit(jobEvent(job, 'manual'));
    }
    for (const name of steps.delay) {
      const job = byName.get(name);
      if (job === undefined) continue;
      const notBefore = now() + ((job.spec as JobSpec).startInMs ?? 0);
      // The store sets notBefore only when queueing: queue and hold in one transaction, so no agent sees it pending.
      if ((await tx.jobs.setPending({ id: job.id, from: ['created'], notBefore })) && (await tx.jobs.setStatus({ id: job.id, from: ['pending'], to: 'scheduled' }))) {
        emit(jobEvent(job, 'scheduled', { notBefore }));
      }
    }
    if (steps.finished) {
      await setBuild(tx, build, activeBuildStatuses, steps.outcome, emit);
    } else if (build.status === 'created') {
      await setBuild(tx, build, ['created'], 'pending', emit);
    }
  }

  function tellCancel(attempts: ReadonlyArray<{ id: number; reason: string }>): void {
    for (const { id, reason } of attempts) {
      for (const listener of cancelListeners) listener(id, reason);
    }
  }

  async function activeAttempt(tx: StoreTransaction, jobId: number): Promise<JobAttempt | null> {
    const attempts = await tx.attempts.listByJob(jobId);
    return attempts.findLast((a) => (a.status === 'assigned' || a.status === 'running') && a.revokedAt === null) ?? null;
  }

  /** Cancels jobs that wait; returns the attempts of running ones, to be told to stop. */
  async function cancelJobs(tx: StoreTransaction, jobs: readonly Job[], reason: string, emit: Emit): Promise<Array<{ id: number; reason: string }>> {
    const stop: Array<{ id: number; reason: string }> = [];
    for (const job of jobs) {
      if (waiting.includes(job.status)) {
        if (await tx.jobs.setStatus({ id: job.id, from: waiting, to: 'canceled' })) emit(jobEvent(job, 'canceled'));
      } else if (job.status === 'running') {
        const attempt = await activeAttempt(tx, job.id);
        if (attempt === null) continue;
        // Stored in the cancel's transaction: acknowledged, it survives a crash of the server.
        await tx.attempts.requestCancel(attempt.id, reason);
        stop.push({ id: attempt.id, reason: attempt.cancelReason ?? reason });
      }
    }
    return stop;
  }

  async function resolve(repository: string, ref: string, sha: string | null): Promise<ResolvedRef & { name: string }> {
    const name = ref.replace(/^refs\/(heads|tags)\//, '');
    if (sha === null) return { ...(await git.resolveRef(repository, ref)), name };
    // A given commit (a push, a retry) wins over where the ref points now; the ref only says branch or tag.
    let kind: ResolvedRef;
    try {
      kind = await git.resolveRef(repository, ref);
    } catch (error) {
      if (!(error instanceof SlipwayError && error.code === 'NOT_FOUND')) throw error;
      kind = { sha, branch: ref.startsWith('refs/tags/') ? null : name, tag: ref.startsWith('refs/tags/') ? name : null };
    }
    return { sha, branch: kind.branch, tag: kind.tag, name };
  }

  async function triggerAt(input: TriggerInput): Promise<{ buildId: number; number: number; status: string }> {
    const project = await store.projects.getOrThrow(input.projectId);
    const ref = await resolve(project.repositoryUrl, input.ref ?? project.defaultBranch, input.commitSha ?? null);
    const source = input.source as Build['source'];
    const prepared = await prepareBuild(git, { project, ref, variables: input.variables, source, beforeSha: input.beforeSha ?? null, serverUrl: config.publicUrl });
    return transaction(async (tx, emit) => {
      const { build } = await tx.builds.create(prepared);
      emit(buildEvent(build, build.status, 'build.created'));
      await advance(tx, build, emit);
      return { buildId: build.id, number: build.number, status: build.status };
    });
  }

  async function jobOrThrow(jobId: number): Promise<Job> {
    const job = await store.jobs.get(jobId);
    if (job === null) throw new SlipwayError('NOT_FOUND', `there is no job ${jobId}`);
    return job;
  }

  /** Jobs that depend, directly or not, on `name`. */
  function downstream(plan: Plan, name: string): Set<string> {
    const found = new Set<string>();
    const queue = [name];
    for (let next = queue.pop(); next !== undefined; next = queue.pop()) {
      for (const edge of plan.edges) {
        if (edge.from === next && !found.has(edge.to)) {
          found.add(edge.to);
          queue.push(edge.to);
        }
      }
    }
    return found;
  }

  const controller: BuildController = {
    trigger: triggerAt,

    async attemptStarted(attemptId) {
      const attempt = await store.attempts.get(attemptId);
      if (attempt === null) return;
      const job = await jobOrThrow(attempt.jobId);
      await onBuild(job.buildId, async (tx, build, emit) => {
        if (!(await tx.attempts.markRunning(attemptId))) return;
        emit(jobEvent(job, 'running', { attempt: attempt.number }));
        await setBuild(tx, build, ['created', 'pending'], 'running', emit);
      });
    },

    async attemptFinished(report: AttemptReport) {
      const attempt = await store.attempts.get(report.attemptId);
      if (attempt === null) return;
      const job = await jobOrThrow(attempt.jobId);
      const failure = toFailure(report.failure, report.exitCode);
      let ended: AttemptEnded | null = null;
      await onBuild(job.buildId, async (tx, build, emit) => {
        const finished = await tx.attempts.finish(attempt.id, { status: report.status, failure, exitCode: report.exitCode });
        if (!finished) return; // fencing: this attempt already ended
        // Read under the build's lock: a cancel stored before this report makes the end a cancel.
        const canceled = (await tx.attempts.get(attempt.id))?.cancelReason ?? null;
        ended = { attemptId: attempt.id, agentId: attempt.agentId, status: canceled !== null ? 'canceled' : report.status, failureKind: report.failure?.kind ?? null };
        const current = (await tx.jobs.get(job.id)) ?? job;
        const spec = current.spec as JobSpec;
        if (report.status !== 'success' && (canceled !== null || report.status === 'canceled' || report.failure?.kind === 'canceled')) {
          if (await tx.jobs.setStatus({ id: job.id, from: ['running'], to: 'canceled' })) emit(jobEvent(current, 'canceled'));
        } else if (report.status === 'success') {
          if (await tx.jobs.setStatus({ id: job.id, from: ['running'], to: 'success', failure: null })) emit(jobEvent(current, 'success'));
        } else {
          const failed = failure ?? { kind: 'system_failure' as const, message: 'the job failed without saying why' };
          const retry = current.attempts < spec.retry.max + 1 && (spec.retry.when.includes('always') || spec.retry.when.includes(failed.kind));
          if (retry) {
            if (await tx.jobs.requeue({ id: job.id, from: ['running'] })) emit(jobEvent(current, 'pending', { retry: current.attempts + 1, failure: failed }));
          } else if (await tx.jobs.setStatus({ id: job.id, from: ['running'], to: 'failed', failure: failed })) {
            emit(jobEvent(current, 'failed', { failure: failed, failureAllowed: failureAllowed({ ...current, status: 'failed', failure: failed }) }));
          }
        }
        await advance(tx, build, emit);
      });
      if (ended !== null) tellEnded(ended);
    },

    async attemptLost(attemptId) {
      const attempt = await store.attempts.get(attemptId);
      if (attempt === null) return;
      const job = await jobOrThrow(attempt.jobId);
      const lost: Failure = { kind: 'agent_lost', message: 'agent lost' };
      let ended: AttemptEnded | null = null;
      await onBuild(job.buildId, async (tx, build, emit) => {
        if (!(await tx.attempts.finish(attempt.id, { status: 'lost', failure: lost }))) return;
        const canceled = ((await tx.attempts.get(attempt.id))?.cancelReason ?? null) !== null;
        ended = { attemptId: attempt.id, agentId: attempt.agentId, status: canceled ? 'canceled' : 'lost', failureKind: 'agent_lost' };
        const current = (await tx.jobs.get(job.id)) ?? job;
        const spec = current.spec as JobSpec;
        if (canceled) {
          if (await tx.jobs.setStatus({ id: job.id, from: ['running'], to: 'canceled' })) emit(jobEvent(current, 'canceled'));
        } else if (current.attempts < spec.retry.max + 1 && (spec.retry.when.includes('always') || spec.retry.when.includes('agent_lost'))) {
          if (await tx.jobs.requeue({ id: job.id, from: ['running'] })) emit(jobEvent(current, 'pending', { retry: current.attempts + 1, failure: lost }));
        } else if (await tx.jobs.setStatus({ id: job.id, from: ['running'], to: 'failed', failure: lost })) {
          emit(jobEvent(current, 'failed', { failure: lost, failureAllowed: failureAllowed({ ...current, status: 'failed', failure: lost }) }));
        }
        await advance(tx, build, emit);
      });
      if (ended !== null) tellEnded(ended);
    },

    async cancelBuild(buildId) {
      const stop = await onBuild(buildId, async (tx, build, emit) => {
        if (finishedBuildStatuses.includes(build.status)) return [];
        const attempts = await cancelJobs(tx, await tx.jobs.listByBuild(buildId), 'the build was canceled', emit);
        await advance(tx, build, emit);
        if (!finishedBuildStatuses.includes(build.status) && attempts.length === 0) await setBuild(tx, build, activeBuildStatuses, 'canceled', emit);
        return attempts;
      });
      tellCancel(stop);
    },

    async cancelJob(jobId) {
      const job = await jobOrThrow(jobId);
      const stop = await onBuild(job.buildId, async (tx, build, emit) => {
        const current = await tx.jobs.get(jobId);
        if (current === null) return [];
        const attempts = await cancelJobs(tx, [current], 'the job was canceled', emit);
        await advance(tx, build, emit);
        return attempts;
      });
      tellCancel(stop);
    },

    async retryJob(jobId) {
      const job = await jobOrThrow(jobId);
      await onBuild(job.buildId, async (tx, build, emit) => {
        const current = await tx.jobs.get(jobId);
        if (current === null || !retriable.includes(current.status)) {
          throw new SlipwayError('CONFLICT', `job ${jobId} is ${current?.status ?? 'gone'}; only a failed or canceled job can be retried`);
        }
        if (!(await tx.jobs.requeue({ id: jobId, from: retriable }))) return;
        emit(jobEvent(current, 'pending', { retry: current.attempts + 1 }));
        // Jobs held back by this one get another chance.
        if (isPlan(build.plan)) {
          const after = downstream(build.plan, current.name);
          for (const other of await tx.jobs.listByBuild(build.id)) {
            if (after.has(other.name) && (other.status === 'skipped' || other.status === 'canceled')) {
              if (await tx.jobs.setStatus({ id: other.id, from: ['skipped', 'canceled'], to: 'created' })) emit(jobEvent(other, 'created'));
            }
          }
        }
        await setBuild(tx, build, finishedBuildStatuses, build.startedAt === null ? 'pending' : 'running', emit);
        await advance(tx, build, emit);
      });
    },

    async retryBuild(buildId) {
      const build = await store.builds.get(buildId);
      if (build === null) throw new SlipwayError('NOT_FOUND', `there is no build ${buildId}`);
      // The full ref keeps a tag build a tag build even when a branch has the same name.
      const ref = build.refKind === 'tag' ? `refs/tags/${build.ref}` : build.refKind === 'branch' ? `refs/heads/${build.ref}` : build.ref;
      const retried = await triggerAt({ projectId: build.projectId, ref, commitSha: build.commitSha, beforeSha: build.beforeSha, variables: build.triggerVariables, source: 'retry' });
      return { buildId: retried.buildId };
    },

    async playJob(jobId) {
      const job = await jobOrThrow(jobId);
      await onBuild(job.buildId, async (tx, build, emit) => {
        const current = await tx.jobs.get(jobId);
        if (current?.status !== 'manual') throw new SlipwayError('CONFLICT', `job ${jobId} is ${current?.status ?? 'gone'}; only a manual job can be played`);
        if (!(await tx.jobs.setPending({ id: jobId, from: ['manual'] }))) return;
        emit(jobEvent(current, 'pending'));
        await setBuild(tx, build, ['success', 'failed', 'created'], build.startedAt === null ? 'pending' : 'running', emit);
        await advance(tx, build, emit);
      });
    },

    async tick(at) {
      for (const job of await store.jobs.listScheduledDue(at)) {
        await onBuild(job.buildId, async (tx, build, emit) => {
          if (await tx.jobs.setPending({ id: job.id, from: ['scheduled'] })) emit(jobEvent(job, 'pending'));
          await advance(tx, build, emit);
        });
      }
      // A backstop for attempts whose agent neither finishes nor is declared lost: no stored
      // output for noProgressTimeoutMs. Progress is the attempt's last stored output (the
      // store stamps it with the log sequence number), else its start or assignment; never
      // before this controller began, so a server that was down does not count its downtime.
      const stop: Array<{ id: number; reason: string }> = [];
      const limit = config.agents.noProgressTimeoutMs;
      for (const attempt of await store.attempts.listRunning()) {
        const progressAt = Math.max(attempt.lastProgressAt ?? 0, attempt.startedAt ?? attempt.createdAt, bootAt);
        if (at - progressAt <= limit) continue;
        const reason = `no progress for ${spoken(limit)}: the agent sent no output and no state change (agents.noProgressTimeoutMs)`;
        await controller.attemptFinished({ attemptId: attempt.id, status: 'failed', failure: { kind: 'system_failure', message: reason }, exitCode: null });
        stop.push({ id: attempt.id, reason });
      }
      tellCancel(stop);
    },

    onCancelAttempt(listener) {
      cancelListeners.add(listener);
      return () => cancelListeners.delete(listener);
    },

    onAttemptEnded(listener) {
      endListeners.add(listener);
      return () => endListeners.delete(listener);
    },
  };
  return controller;
}
