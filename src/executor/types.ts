import type { JobSpec } from '../pipeline/index.js';
import type { OutputChunk } from '../protocol/index.js';

/**
 * The execution core: runs one job on this machine. `slipway run` calls it for each
 * job of a local pipeline, and the agent calls it for each job it is assigned; there is
 * no second path.
 *
 * Contract:
 *  - runJob never throws for an outcome of the job: a failing script, a timeout, a
 *    cancel and a broken checkout are all results. It throws only for a programming
 *    error in its arguments.
 *  - Output chunks arrive through onOutput in order, with seq strictly increasing from 1;
 *    onOutput is called synchronously and must not throw.
 *  - When runJob resolves, every process the job started has been killed (its whole
 *    process group), and nothing more is written to onOutput.
 *  - runJob removes the job's workspace when it resolves unless keepWorkspace is set.
 */

/** Where the job's source comes from. */
export type SourceSpec = {
  /** A git repository: a local path, file://, http(s) or ssh URL. */
  repository: string;
  /** The full commit SHA to check out. */
  commit: string;
  /**
   * The project directory inside the repository ('' for the root). Scripts run there,
   * and artifact and cache paths are relative to it.
   */
  subdirectory: string;
  /**
   * `slipway run --dirty`: a working tree whose uncommitted changes (modified, added,
   * deleted, untracked-but-not-ignored files) are laid over the checkout.
   */
  overlayFrom: string | null;
  /**
   * Take the tree from a tar of the commit instead of checking it out with git (an
   * image without git, a repository this machine cannot reach). The project then has
   * no `.git`. Left out: git.
   */
  archive?: SourceArchive | null;
};

/** A tar of the commit's tree (what `git archive` writes) from elsewhere: the agent's server. */
export type SourceArchive = {
  /** Writes the tar to dest; throws (with a message for the job's log) when it cannot. */
  download(dest: string): Promise<void>;
  /** Where it comes from and why, for the log: "the server", "no git in this image". */
  from: string;
  reason: string;
};

/** A place caches persist between jobs. Local: a directory; agent: the server over HTTP. */
export type CacheStore = {
  /** Writes the archive stored under key to dest and returns true, or returns false. */
  fetch(key: string, dest: string): Promise<boolean>;
  /** Stores the archive at file under key, replacing what was there. */
  store(key: string, file: string): Promise<void>;
};

export type { OutputChunk, OutputStream, SectionName } from '../protocol/index.js';

export type RunJobRequest = {
  job: JobSpec;
  /**
   * Every variable the job sees, already merged by the caller: predefined (CI_*,
   * SLIPWAY_*), pipeline, job, trigger. The executor adds CI_PROJECT_DIR and
   * CI_BUILDS_DIR for the workspace it prepares, and expands `$VAR` references in values.
   */
  variables: Record<string, string>;
  source: SourceSpec;
  /** A directory this job may own; the workspace is created inside it. */
  workRoot: string;
  /** A directory shared by jobs on this machine for git mirrors (speeds up checkouts). */
  gitCacheDir: string;
  /** Artifact archives (.tar.gz made by a previous runJob) to extract before the job. */
  artifactsIn: Array<{ job: string; archive: string }>;
  /** Where to write this job's artifact archive, when it has artifacts. */
  artifactsOut: string;
  cacheStore: CacheStore;
  /** Values replaced by `[MASKED]` in the output, even when split across chunks. */
  maskedValues: string[];
  onOutput: (chunk: OutputChunk) => void;
  /** Aborting cancels the job: its processes are killed and the result is `canceled`. */
  signal: AbortSignal;
  /** How long after_script may run, in ms (GitLab's default is 5 minutes). */
  afterScriptTimeoutMs?: number;
  /** After SIGTERM to a process group, how long before SIGKILL. */
  killGraceMs?: number;
  keepWorkspace?: boolean;
  /**
   * Where the memory cgroup is read to tell an out-of-memory kill (default
   * /sys/fs/cgroup; tests point it at a laid-out directory).
   */
  cgroupRoot?: string;
};

/**
 * Why a job did not succeed. A user's failure (their script exited non-zero, or ran out
 * of time) is told apart from a system failure (checkout failed, archive broken).
 */
export type FailureReason =
  | { kind: 'script_failure'; exitCode: number; message: string }
  | { kind: 'timeout'; message: string }
  | { kind: 'canceled'; message: string }
  | { kind: 'system_failure'; message: string };

export type JobResult = {
  status: 'success' | 'failed' | 'canceled';
  /** null on success. */
  failure: FailureReason | null;
  /** The exit code of the script phase, when it ran to an exit. */
  exitCode: number | null;
  durationMs: number;
  /** The archive written to artifactsOut, or null when there was nothing to collect. */
  artifacts: { archive: string; files: number; sizeBytes: number } | null;
};
