import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { messageOf } from '../errors/index.js';
import { downloadArtifacts, uploadArtifacts } from './artifacts.js';
import {
  isPulled,
  isPushed,
  matchesOutcome,
  resolveCache,
  restoreCache,
  saveCache,
  type CacheContext,
  type ResolvedCache,
} from './cache.js';
import { formatDuration, plural } from './format.js';
import { Masker, MIN_MASKED_LENGTH } from './masking.js';
import { openMemoryCgroup, outOfMemory, type MemoryCgroup } from './oom.js';
import { JobOutput } from './output.js';
import { chooseShell, runShell, type Shell } from './shell.js';
import type { FailureReason, JobResult, RunJobRequest, SectionName } from './types.js';
import { expandVariables, inheritedEnvironment, isPassable } from './variables.js';
import { checkoutSource, createWorkspace, removeWorkspace, type Workspace } from './workspace.js';

const DEFAULT_KILL_GRACE_MS = 5000;
const DEFAULT_AFTER_SCRIPT_TIMEOUT_MS = 300_000;
/** A canceled job's after_script gets at most this long: whoever canceled wants it over. */
const CANCELED_AFTER_SCRIPT_TIMEOUT_MS = 10_000;

/** Runs one job on this machine; see types.ts for the contract. */
export async function runJob(request: RunJobRequest): Promise<JobResult> {
  checkRequest(request);
  const startedAt = performance.now();
  const masker = new Masker(request.maskedValues);
  const output = new JobOutput(request.onOutput, masker, startedAt);
  try {
    const run = new JobRun(request, output, masker);
    await run.execute();
    return { ...run.result(), durationMs: Math.round(performance.now() - startedAt) };
  } finally {
    output.close();
  }
}

function checkRequest(request: RunJobRequest): void {
  if (typeof request.onOutput !== 'function') throw new TypeError('runJob: onOutput must be a function');
  if (!(request.signal instanceof AbortSignal)) throw new TypeError('runJob: signal must be an AbortSignal');
  if (!(request.job.timeoutMs > 0)) throw new TypeError(`runJob: job.timeoutMs must be positive, got ${request.job.timeoutMs}`);
  if (request.workRoot === '' || request.gitCacheDir === '') {
    throw new TypeError('runJob: workRoot and gitCacheDir must name directories');
  }
  if ((request.source.archive ?? null) !== null && request.source.overlayFrom !== null) {
    throw new TypeError('runJob: a source archive cannot take the changes of a working tree (overlayFrom)');
  }
}

type Prepared = {
  workspace: Workspace;
  projectDir: string;
  env: Record<string, string>;
  shell: Shell;
  /** The memory cgroup the steps run in, to tell an out-of-memory kill (oom.ts); null without a limit. */
  memory: MemoryCgroup | null;
};

/** One run of one job: the phases in order, and what they found. */
class JobRun {
  private readonly request: RunJobRequest;
  private readonly output: JobOutput;
  private readonly masker: Masker;
  private readonly killGraceMs: number;
  private failure: FailureReason | null = null;
  private exitCode: number | null = null;
  private artifacts: JobResult['artifacts'] = null;
  private workspace: Workspace | null = null;
  private caches: ResolvedCache[] = [];

  constructor(request: RunJobRequest, output: JobOutput, masker: Masker) {
    this.request = request;
    this.output = output;
    this.masker = masker;
    this.killGraceMs = request.killGraceMs ?? DEFAULT_KILL_GRACE_MS;
  }

  result(): Omit<JobResult, 'durationMs'> {
    const status = this.failure === null ? 'success' : this.failure.kind === 'canceled' ? 'canceled' : 'failed';
    return { status, failure: this.failure, exitCode: this.exitCode, artifacts: this.artifacts };
  }

  async execute(): Promise<void> {
    try {
      const prepared = await this.phase('prepare', () => this.prepare());
      if (prepared === null || this.stopIfCanceled()) return;
      await this.beforeScripts(prepared);
      if (this.failure !== null || this.stopIfCanceled()) return;
      await this.scripts(prepared);
    } finally {
      if (this.workspace !== null) await this.cleanUp(this.workspace);
      this.sayOutcome();
    }
  }

  private async prepare(): Promise<Prepared> {
    const { job, source } = this.request;
    this.output.system(`Running job "${job.name}" on ${hostname()}`);
    if (this.masker.tooShort > 0) {
      this.output.warning(
        `${plural(this.masker.tooShort, 'masked value')} shorter than ${MIN_MASKED_LENGTH} characters will not be masked`,
      );
    }
    const workspace = await createWorkspace(this.request.workRoot, job.name, source.repository);
    this.workspace = workspace;
    const context = { signal: this.request.signal, killGraceMs: this.killGraceMs, baseEnv: this.request.baseEnv };
    const projectDir = await checkoutSource(workspace, source, this.request.gitCacheDir, context, (line) =>
      this.output.system(line),
    );
    const shell = await chooseShell();
    this.output.system(`Using ${shell.path}`);
    const memory = await openMemoryCgroup(this.request.cgroupRoot);
    return { workspace, projectDir, env: this.environment(projectDir), shell, memory };
  }

  /** The job's variables, expanded, plus the inherited basics; job variables win. */
  private environment(projectDir: string): Record<string, string> {
    const base = inheritedEnvironment(this.request.baseEnv);
    const literal = (text: string): string => text.replaceAll('$', '$$');
    const variables = {
      ...this.request.job.variables,
      ...this.request.variables,
      CI_PROJECT_DIR: literal(projectDir),
      CI_BUILDS_DIR: literal(resolve(this.request.workRoot)),
    };
    const env = { ...base };
    for (const [name, value] of Object.entries(expandVariables(variables, base))) {
      if (isPassable(name, value)) env[name] = value;
      else this.output.warning(`the variable '${name.replaceAll('\0', '\\0')}' cannot be passed to a process; left out`);
    }
    return env;
  }

  /** artifacts_download and cache_restore. */
  private async beforeScripts(prepared: Prepared): Promise<void> {
    const { artifactsIn } = this.request;
    if (artifactsIn.length > 0) {
      const done = await this.phase('artifacts_download', () =>
        downloadArtifacts(artifactsIn, prepared.projectDir, this.output),
      );
      if (done === null) return;
    }
    const caches = await this.guard(() =>
      Promise.all(this.request.job.cache.map((spec) => resolveCache(spec, prepared.projectDir, prepared.env))),
    );
    if (caches === null) return;
    this.caches = caches;
    const pulled = caches.filter(isPulled);
    if (pulled.length > 0) {
      await this.phase('cache_restore', async () => {
        const context = this.cacheContext(prepared);
        for (const cache of pulled) await restoreCache(cache, context);
      });
    }
  }

  /** before_script + script, after_script, cache_save, artifacts_upload. */
  private async scripts(prepared: Prepared): Promise<void> {
    const { job } = this.request;
    const shellCompleted = await this.guard(async () => {
      const oomKillsBefore = (await prepared.memory?.oomKills()) ?? null;
      const { outcome, reachedMain } = await runShell({
        shell: prepared.shell,
        beforeScript: job.beforeScript,
        script: job.script,
        sections: { before: 'before_script', main: 'script' },
        scriptPath: join(prepared.workspace.tmpDir, 'script.sh'),
        cwd: prepared.projectDir,
        env: prepared.env,
        timeoutMs: job.timeoutMs,
        killGraceMs: this.killGraceMs,
        signal: this.request.signal,
        output: this.output,
        masker: this.masker,
      });
      if (outcome.kind === 'timeout') {
        this.failure = { kind: 'timeout', message: `job exceeded its timeout of ${formatDuration(job.timeoutMs)}` };
      } else if (outcome.kind === 'canceled') {
        this.failure = { kind: 'canceled', message: 'job was canceled' };
      } else {
        this.exitCode = outcome.exitCode;
        if (outcome.exitCode !== 0) {
          const list = reachedMain ? 'script' : 'before_script';
          const by = outcome.signal === null ? '' : ` (killed by ${outcome.signal})`;
          const message =
            (await outOfMemory(prepared.memory, oomKillsBefore, outcome.exitCode)) ??
            `${list} failed with exit code ${outcome.exitCode}${by}`;
          this.failure = { kind: 'script_failure', exitCode: outcome.exitCode, message };
        }
      }
    });
    if (shellCompleted === null) return; // the shell could not even start: nothing ran
    if (job.afterScript.length > 0) await this.afterScript(prepared);
    if (this.stopIfCanceled() || (this.failure !== null && !this.isUserOutcome())) return;
    // The outcome cache and artifacts `when:` refer to: the scripts' own.
    const outcome = this.failure === null ? 'success' : 'failed';

    // Both run even when the other fails: a broken cache store should not cost the
    // artifacts a person is waiting for. The first failure is the job's.
    const pushed = this.caches.filter((cache) => isPushed(cache, outcome));
    if (pushed.length > 0) {
      await this.phase('cache_save', async () => {
        const context = this.cacheContext(prepared);
        for (const cache of pushed) await saveCache(cache, context);
      });
    }
    if (this.stopIfCanceled()) return;
    const { artifacts } = job;
    if (artifacts !== null && matchesOutcome(artifacts.when, outcome)) {
      const collected = await this.phase('artifacts_upload', () =>
        uploadArtifacts(artifacts, prepared.projectDir, resolve(this.request.artifactsOut), prepared.env, this.output),
      );
      this.artifacts = collected ?? null;
    }
  }

  private cacheContext(prepared: Prepared): CacheContext {
    const { projectDir, workspace } = prepared;
    return { store: this.request.cacheStore, projectDir, tmpDir: workspace.tmpDir, output: this.output };
  }

  private async afterScript(prepared: Prepared): Promise<void> {
    const canceled = this.failure?.kind === 'canceled';
    const status = this.failure === null ? 'success' : canceled ? 'canceled' : 'failed';
    const configured = this.request.afterScriptTimeoutMs ?? DEFAULT_AFTER_SCRIPT_TIMEOUT_MS;
    const timeoutMs = canceled ? Math.min(configured, CANCELED_AFTER_SCRIPT_TIMEOUT_MS) : configured;
    try {
      const oomKillsBefore = (await prepared.memory?.oomKills()) ?? null;
      const { outcome } = await runShell({
        shell: prepared.shell,
        beforeScript: [],
        script: this.request.job.afterScript,
        sections: { before: null, main: 'after_script' },
        scriptPath: join(prepared.workspace.tmpDir, 'after_script.sh'),
        cwd: prepared.projectDir,
        env: { ...prepared.env, CI_JOB_STATUS: status },
        timeoutMs,
        killGraceMs: this.killGraceMs,
        // Already canceled: it runs on its own short limit. Otherwise a cancel ends it.
        signal: canceled ? null : this.request.signal,
        output: this.output,
        masker: this.masker,
      });
      if (outcome.kind === 'exited' && outcome.exitCode !== 0) {
        const oom = await outOfMemory(prepared.memory, oomKillsBefore, outcome.exitCode);
        this.output.warning(`after_script failed${oom === null ? ` with exit code ${outcome.exitCode}` : `: ${oom}`}; the job status is not changed`);
      } else if (outcome.kind === 'timeout') {
        this.output.warning(`after_script exceeded its timeout of ${formatDuration(timeoutMs)} and was stopped`);
      } else if (outcome.kind === 'canceled') {
        this.failure ??= { kind: 'canceled', message: 'job was canceled' };
      }
    } catch (error) {
      this.output.warning(`after_script could not run: ${messageOf(error)}`);
    }
  }

  /** Whether the failure so far is the user's (script, timeout), which still allows cache and artifacts. */
  private isUserOutcome(): boolean {
    return this.failure === null || this.failure.kind === 'script_failure' || this.failure.kind === 'timeout';
  }

  /** Runs fn in a log section; a thrown error becomes the job's failure and null. */
  private async phase<T>(section: SectionName, fn: () => Promise<T>): Promise<T | null> {
    return this.output.section(section, () => this.guard(fn));
  }

  private async guard<T>(fn: () => Promise<T>): Promise<T | null> {
    try {
      return await fn();
    } catch (error) {
      this.fail(error);
      return null;
    }
  }

  private fail(error: unknown): void {
    if (this.request.signal.aborted) {
      this.failure ??= { kind: 'canceled', message: 'job was canceled' };
      return;
    }
    const message = messageOf(error);
    this.output.system(`ERROR: ${message}`);
    this.failure ??= { kind: 'system_failure', message };
  }

  /** Between phases: a cancel seen here ends the job without running more phases. */
  private stopIfCanceled(): boolean {
    if (!this.request.signal.aborted && this.failure?.kind !== 'canceled') return false;
    this.failure ??= { kind: 'canceled', message: 'job was canceled' };
    return true;
  }

  private async cleanUp(workspace: Workspace): Promise<void> {
    if (this.request.keepWorkspace === true) {
      this.output.system(`Kept the workspace in ${workspace.jobDir}`);
      return;
    }
    try {
      await removeWorkspace(workspace.jobDir);
    } catch (error) {
      this.output.warning(`could not remove the workspace ${workspace.jobDir}: ${messageOf(error)}`);
    }
  }

  private sayOutcome(): void {
    if (this.failure === null) this.output.system('Job succeeded');
    else if (this.failure.kind === 'canceled') this.output.system('Job canceled');
    else this.output.system(`ERROR: Job failed: ${this.failure.message}`);
  }
}
