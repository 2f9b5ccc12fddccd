/**
 * The pipeline model: what `.slipway.yml` means once parsed, validated and planned.
 *
 * Two phases, both pure:
 *  - parse (text → PipelineDefinition): syntax, schema, `extends`, stages, needs that
 *    name missing jobs, needs cycles, matrix size, durations. Needs no context.
 *  - plan (definition + PlanContext → Plan): workflow rules, job rules, matrix and
 *    `parallel` expansion, needs that name a job the rules excluded. The server plans at
 *    trigger time; `slipway run` plans against the local checkout.
 * Expected failures are values (`{ ok: false, errors }`), never exceptions.
 */

/** A place in a pipeline file; line and column count from 1. */
export type SourcePosition = {
  file: string;
  line: number;
  column: number;
};

/** One problem found in a pipeline file, with where it is and what to change. */
export type PipelineDiagnostic = SourcePosition & {
  message: string;
};

export type Result<T> = { ok: true; value: T } | { ok: false; errors: PipelineDiagnostic[] };

export type RetryWhen = 'always' | 'script_failure' | 'agent_lost' | 'timeout' | 'system_failure';

/** When a job runs relative to the outcome of the jobs before it. */
export type JobWhen = 'on_success' | 'on_failure' | 'always' | 'manual' | 'delayed';

/** When artifacts are collected or a cache is saved. */
export type OutcomeWhen = 'on_success' | 'on_failure' | 'always';

export type ArtifactsSpec = {
  /** Glob patterns relative to the project directory. */
  paths: string[];
  exclude: string[];
  /** null: kept until deleted by hand. */
  expireInMs: number | null;
  when: OutcomeWhen;
  /** `artifacts: name:`, the archive's name when downloaded; null: the job's name. */
  name?: string | null;
};

export type CacheSpec = {
  /**
   * A literal key that may reference variables (`$CI_COMMIT_REF_NAME`, `${NODE}`), expanded
   * by the executor with the job's variables. Used when `files` is empty.
   */
  key: string;
  /** `key: files: [...]`: the key is `prefix-` + a hash of these files' contents. */
  files: string[];
  prefix: string;
  /** Glob patterns relative to the project directory. */
  paths: string[];
  policy: 'pull' | 'push' | 'pull-push';
  when: OutcomeWhen;
};

export type ServiceSpec = {
  image: string;
  alias: string | null;
  entrypoint: string[] | null;
  command: string[] | null;
  variables: Record<string, string>;
};

export type ResourcesSpec = {
  cpus: number | null;
  memoryMiB: number | null;
};

export type NeedSpec = {
  /** The expanded name of the needed job (matrix needs are expanded to every match). */
  job: string;
  /** Whether this job downloads the needed job's artifacts. */
  artifacts: boolean;
};

/** false, or allowed with any exit code (exitCodes null) or with only these codes. */
export type AllowFailureSpec = false | { exitCodes: number[] | null };

export type EnvironmentSpec = {
  name: string;
  url: string | null;
  action: 'start' | 'stop' | 'prepare';
};

/** A deployment of the image a build produced (used by the apps controller). */
export type DeploySpec = {
  app: string;
  image: string;
  instances: number;
  port: number | null;
  env: Record<string, string>;
  healthCheck: { path: string; intervalMs: number; timeoutMs: number } | null;
  resources: ResourcesSpec;
};

/** A job as it will run: names expanded, defaults applied, durations in ms. */
export type JobSpec = {
  /** The expanded name: `test`, `test 2/3`, `test: [node=20, db=pg]`. Unique in a plan. */
  name: string;
  /** The key in the file this job came from. */
  definitionName: string;
  stage: string;
  /** null: ordered by stage (waits for every job of earlier stages). [] starts at once. */
  needs: NeedSpec[] | null;
  /**
   * Jobs whose artifacts are placed in the workspace before the job starts: the needs
   * with `artifacts: true`, or, for a stage-ordered job, every job of earlier stages
   * (narrowed by `dependencies:` when given).
   */
  artifactsFrom: string[];
  beforeScript: string[];
  script: string[];
  afterScript: string[];
  /** Pipeline, default, job, matrix and rule variables, merged in that order. */
  variables: Record<string, string>;
  image: string | null;
  /** `image: { entrypoint: [...] }`: overrides the image's entrypoint; null keeps it. */
  imageEntrypoint?: string[] | null;
  labels: string[];
  services: ServiceSpec[];
  resources: ResourcesSpec;
  timeoutMs: number;
  retry: { max: number; when: RetryWhen[] };
  allowFailure: AllowFailureSpec;
  when: JobWhen;
  /** For `when: delayed`. */
  startInMs: number | null;
  artifacts: ArtifactsSpec | null;
  cache: CacheSpec[];
  environment: EnvironmentSpec | null;
  deploy: DeploySpec | null;
  /** `interruptible:`: a newer build of the same ref may cancel this job. Default false. */
  interruptible?: boolean;
  /** `coverage:`: a /regex/ whose first group in the log is the coverage percentage. */
  coverage?: string | null;
  /** The matrix values this job was expanded with, or null. */
  matrix: Record<string, string> | null;
  /** `parallel: N` index (1-based) and total, or null. */
  parallel: { index: number; total: number } | null;
  /** Where the job's key is in the file. */
  position: SourcePosition;
};

/**
 * A validated file before rules are evaluated. Kept opaque to callers beyond these
 * fields: plan it with planPipeline.
 */
export type PipelineDefinition = {
  file: string;
  stages: string[];
  variables: Record<string, string>;
  /** Definition names of visible jobs, in file order. */
  jobNames: string[];
  /** Internal, consumed by planPipeline. */
  readonly internal: unknown;
};

/** What rules are evaluated against. */
export type PlanContext = {
  /**
   * Variables visible to `rules: if:` and workflow rules: the predefined ones
   * (CI_COMMIT_BRANCH, CI_COMMIT_TAG, CI_PIPELINE_SOURCE, ...) and trigger variables.
   */
  variables: Record<string, string>;
  /**
   * Paths (relative to the repository root) changed by the commit, for `rules: changes:`.
   * null when unknown (a new branch, a manual run): `changes:` rules then match.
   */
  changedPaths: string[] | null;
  /**
   * Paths that exist in the commit, for `rules: exists:`; null when unknown (then
   * `exists:` rules match).
   */
  existingPaths: string[] | null;
};

export type Plan = {
  file: string;
  /** Stages that hold at least one job, in order. */
  stages: string[];
  /** Pipeline-level variables (after workflow rule variables). */
  variables: Record<string, string>;
  /** Jobs in stage order, then file order. */
  jobs: JobSpec[];
  /**
   * Every dependency edge: `to` starts only after `from` has finished. Needs give their
   * edges; a stage-ordered job has an edge from every job of earlier stages.
   */
  edges: Array<{ from: string; to: string; kind: 'needs' | 'stage' }>;
};

/** Planning either yields a plan, or says the workflow rules do not run this pipeline. */
export type PlanOutcome = { run: true; plan: Plan } | { run: false; reason: string };
