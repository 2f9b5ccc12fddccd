import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { directoryCacheStore, runJob, type CacheStore, type FailureReason, type JobResult } from '../../executor/index.js';
import {
  nextSteps,
  parsePipeline,
  planPipeline,
  predefinedVariables,
  type JobProgress,
  type JobSpec,
  type Plan,
  type PipelineDiagnostic,
  type PredefinedContext,
} from '../../pipeline/index.js';
import { SlipwayError } from '../../errors/index.js';
import { inspectRepo, readPipelineFile, type LocalRepo } from './local-repo.js';
import type { JobPrinter } from './printer.js';
import { selectJobs } from './select.js';
import { allocateRunDir, ensureHome } from './home.js';

/**
 * `slipway run`: plans the pipeline of the repository at cwd and runs its jobs on this
 * machine with the execution core, in DAG order, at most `parallel` at once, with
 * retries, allow_failure and `when:` as the server would.
 */
export type LocalRunOptions = {
  cwd: string;
  /** The environment `slipway run` was started in: git runs with it, jobs inherit a whitelist of it. */
  baseEnv: Readonly<Record<string, string | undefined>>;
  /** The pipeline file, relative to the project directory. */
  file: string;
  /** Run only these jobs (expanded or definition names) and what they depend on. */
  jobs: string[];
  /** Trigger variables: they override the file's. */
  variables: Record<string, string>;
  parallel: number;
  dirty: boolean;
  /** SLIPWAY_HOME: caches, git mirrors and run directories live here. */
  home: string;
  /** Aborted on Ctrl-C: running jobs are stopped and no new job starts. */
  signal: AbortSignal;
  printer: (plan: Plan) => JobPrinter;
  /** Lines about the run as a whole (header, notes). */
  say: (line: string) => void;
};

export type JobOutcome = {
  name: string;
  stage: string;
  status: JobProgress['status'];
  failureAllowed: boolean;
  attempts: number;
  durationMs: number;
  failure: FailureReason | null;
  artifacts: string | null;
};

export type LocalRunResult =
  | { kind: 'invalid'; errors: PipelineDiagnostic[] }
  | { kind: 'not_run'; reason: string }
  | { kind: 'ran'; outcome: 'success' | 'failed' | 'canceled'; runDir: string; jobs: JobOutcome[]; durationMs: number };

export async function runLocalPipeline(options: LocalRunOptions): Promise<LocalRunResult> {
  const repo = await inspectRepo(options.cwd, options.dirty, options.baseEnv);
  const text = await readPipelineFile(repo, options.file, options.dirty, options.baseEnv);
  const parsed = parsePipeline(text, options.file);
  if (!parsed.ok) return { kind: 'invalid', errors: parsed.errors };

  await ensureHome(options.home);
  const { runId, runDir } = await allocateRunDir(options.home);
  const context = buildContext(repo, runId);
  const planned = planPipeline(parsed.value, {
    variables: { ...predefinedVariables(context), ...options.variables },
    changedPaths: repo.changedPaths,
    existingPaths: repo.existingPaths,
  });
  if (!planned.ok) return { kind: 'invalid', errors: planned.errors };
  if (!planned.value.run) return { kind: 'not_run', reason: planned.value.reason };
  const plan = selectJobs(planned.value.plan, options.jobs);

  const ref = repo.tag ?? repo.branch ?? 'detached HEAD';
  options.say(
    `Running ${plan.jobs.length} job${plan.jobs.length === 1 ? '' : 's'} of ${options.file} at ${repo.commit.sha.slice(0, 8)} (${ref}${options.dirty ? ', with uncommitted changes' : ''}), up to ${options.parallel} at once`,
  );
  options.say(`Run directory: ${runDir}`);
  const run = new LocalRun(plan, repo, context, runDir, options);
  const result = await run.execute();
  await writeFile(path.join(runDir, 'summary.json'), JSON.stringify(result, null, 2));
  return { kind: 'ran', ...result, runDir };
}

function buildContext(repo: LocalRepo, runId: number): PredefinedContext {
  return {
    serverUrl: null,
    project: { name: path.basename(path.join(repo.root, repo.subdirectory)), repositoryUrl: repo.root, defaultBranch: repo.defaultBranch },
    commit: repo.commit,
    ref: { branch: repo.branch, tag: repo.tag },
    build: { id: String(runId), source: 'local', url: null },
  };
}

class LocalRun {
  private readonly progress = new Map<string, JobProgress>();
  private readonly outcomes = new Map<string, JobOutcome>();
  private readonly queue: JobSpec[] = [];
  private readonly running = new Set<string>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly jobs: Map<string, JobSpec>;
  private readonly printer: JobPrinter;
  private readonly started = Date.now();
  private readonly cacheStore: CacheStore;
  private wake: () => void = () => {};
  private readonly plan: Plan;
  private readonly repo: LocalRepo;
  private readonly context: PredefinedContext;
  private readonly runDir: string;
  private readonly options: LocalRunOptions;

  constructor(plan: Plan, repo: LocalRepo, context: PredefinedContext, runDir: string, options: LocalRunOptions) {
    this.plan = plan;
    this.repo = repo;
    this.context = context;
    this.runDir = runDir;
    this.options = options;
    this.jobs = new Map(plan.jobs.map((j) => [j.name, j]));
    this.cacheStore = directoryCacheStore(path.join(options.home, 'cache'));
    this.printer = options.printer(plan);
  }

  async execute(): Promise<{ outcome: 'success' | 'failed' | 'canceled'; jobs: JobOutcome[]; durationMs: number }> {
    const { signal } = this.options;
    const onAbort = () => this.wake();
    signal.addEventListener('abort', onAbort);
    try {
      for (;;) {
        const changed = new Promise<void>((resolve) => (this.wake = resolve));
        if (signal.aborted) this.cancelWaiting();
        else this.advance();
        if (this.running.size === 0 && this.queue.length === 0 && this.timers.size === 0) break;
        await changed;
      }
    } finally {
      signal.removeEventListener('abort', onAbort);
      for (const timer of this.timers) clearTimeout(timer);
    }
    const steps = nextSteps(this.plan, this.progress);
    const outcome = signal.aborted ? 'canceled' : steps.outcome;
    const jobs = this.plan.jobs.map((job) => this.outcomes.get(job.name) ?? this.blankOutcome(job));
    return { outcome, jobs, durationMs: Date.now() - this.started };
  }

  /** Applies what the pipeline rules say can happen next, then fills free slots. */
  private advance(): void {
    const steps = nextSteps(this.plan, this.progress);
    for (const name of steps.skip) {
      this.setStatus(name, 'skipped');
      this.printer.note(name, 0, 'skipped: the jobs it depends on did not allow it to run');
    }
    for (const name of steps.manual) {
      this.setStatus(name, 'manual');
      this.printer.note(name, 0, `manual job: not run (run it with --job '${name}')`);
    }
    for (const name of steps.delay) {
      const job = this.job(name);
      this.setStatus(name, 'scheduled');
      this.printer.note(name, 0, `delayed: starts in ${Math.round((job.startInMs ?? 0) / 1000)}s`);
      const timer = setTimeout(() => {
        this.timers.delete(timer);
        this.setStatus(name, 'pending');
        this.queue.push(job);
        this.wake();
      }, job.startInMs ?? 0);
      this.timers.add(timer);
    }
    for (const name of steps.start) {
      this.setStatus(name, 'pending');
      this.queue.push(this.job(name));
    }
    while (this.running.size < this.options.parallel && this.queue.length > 0) {
      const job = this.queue.shift();
      if (job === undefined) break;
      this.running.add(job.name);
      this.setStatus(job.name, 'running');
      this.runWithRetries(job).then(
        () => {
          this.running.delete(job.name);
          this.wake();
        },
        (error: unknown) => {
          // runJob reports job outcomes as values; reaching here is a bug in Slipway itself.
          this.running.delete(job.name);
          this.finish(job, 1, 0, { kind: 'system_failure', message: `internal error: ${String(error)}` }, 'failed', null);
          this.wake();
        },
      );
    }
  }

  /** Ctrl-C: nothing new starts; waiting jobs are canceled, running ones see the signal. */
  private cancelWaiting(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
    this.queue.length = 0;
    for (const job of this.plan.jobs) {
      const status = this.progress.get(job.name)?.status ?? 'created';
      if (status === 'created' || status === 'pending' || status === 'scheduled' || status === 'manual') {
        this.finish(job, 0, 0, { kind: 'canceled', message: 'the run was interrupted' }, 'canceled', null);
      }
    }
  }

  private async runWithRetries(job: JobSpec): Promise<void> {
    const jobStarted = Date.now();
    for (let attempt = 1; ; attempt++) {
      const result = await this.runAttempt(job, attempt);
      this.printer.flush(job.name);
      if (result.status === 'success') {
        this.finish(job, attempt, Date.now() - jobStarted, null, 'success', result.artifacts?.archive ?? null);
        return;
      }
      const failure = result.failure ?? { kind: 'system_failure', message: 'no failure reason' };
      if (result.status === 'canceled' || this.options.signal.aborted) {
        this.finish(job, attempt, Date.now() - jobStarted, failure, 'canceled', null);
        return;
      }
      if (attempt <= job.retry.max && retries(job, failure)) {
        this.printer.note(job.name, Date.now() - jobStarted, `${failure.message}; retrying (attempt ${attempt + 1} of ${job.retry.max + 1})`);
        continue;
      }
      this.finish(job, attempt, Date.now() - jobStarted, failure, 'failed', result.artifacts?.archive ?? null);
      return;
    }
  }

  private runAttempt(job: JobSpec, attempt: number): Promise<JobResult> {
    const index = this.plan.jobs.indexOf(job) + 1;
    const variables = {
      ...predefinedVariables({
        ...this.context,
        job: { id: String(index), name: job.name, stage: job.stage, attempt, parallel: job.parallel, url: null },
      }),
      ...job.variables,
      ...this.options.variables,
    };
    const artifactsIn = job.artifactsFrom.flatMap((from) => {
      const archive = this.outcomes.get(from)?.artifacts;
      return archive === null || archive === undefined ? [] : [{ job: from, archive }];
    });
    return runJob({
      job,
      variables,
      source: {
        repository: this.repo.root,
        commit: this.repo.commit.sha,
        subdirectory: this.repo.subdirectory,
        overlayFrom: this.options.dirty ? this.repo.root : null,
      },
      workRoot: path.join(this.runDir, 'work'),
      gitCacheDir: path.join(this.options.home, 'git'),
      baseEnv: this.options.baseEnv,
      artifactsIn,
      artifactsOut: path.join(this.runDir, 'artifacts', `${fileNameOf(job.name)}.tar.gz`),
      cacheStore: this.cacheStore,
      maskedValues: [],
      onOutput: (chunk) => this.printer.chunk(job.name, chunk),
      signal: this.options.signal,
    });
  }

  private finish(
    job: JobSpec,
    attempts: number,
    durationMs: number,
    failure: FailureReason | null,
    status: 'success' | 'failed' | 'canceled',
    artifacts: string | null,
  ): void {
    const failureAllowed = status === 'failed' && failure !== null && allowsFailure(job, failure);
    this.progress.set(job.name, { status, failureAllowed });
    this.outcomes.set(job.name, { name: job.name, stage: job.stage, status, failureAllowed, attempts, durationMs, failure, artifacts });
    if (failure !== null && status !== 'canceled') {
      this.printer.note(job.name, durationMs, `${failure.message}${failureAllowed ? ' (failure allowed)' : ''}`);
    }
  }

  private setStatus(name: string, status: JobProgress['status']): void {
    this.progress.set(name, { status, failureAllowed: false });
  }

  private job(name: string): JobSpec {
    const job = this.jobs.get(name);
    if (job === undefined) throw new SlipwayError('INTERNAL', `the plan has no job named ${name}`);
    return job;
  }

  private blankOutcome(job: JobSpec): JobOutcome {
    const status = this.progress.get(job.name)?.status ?? 'created';
    return { name: job.name, stage: job.stage, status, failureAllowed: false, attempts: 0, durationMs: 0, failure: null, artifacts: null };
  }
}

/** Whether a job's retry policy covers this failure. */
function retries(job: JobSpec, failure: FailureReason): boolean {
  if (failure.kind === 'canceled') return false;
  return job.retry.when.includes('always') || job.retry.when.includes(failure.kind);
}

/** allow_failure: any failure, or only the listed exit codes of the script. */
function allowsFailure(job: JobSpec, failure: FailureReason): boolean {
  if (job.allowFailure === false) return false;
  if (job.allowFailure.exitCodes === null) return true;
  return failure.kind === 'script_failure' && job.allowFailure.exitCodes.includes(failure.exitCode);
}

/** A job name as a file name: `test: [node=20]` → `test-node-20`. */
function fileNameOf(name: string): string {
  return name.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^-+|-+$/g, '') || 'job';
}
