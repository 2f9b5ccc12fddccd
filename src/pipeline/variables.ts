/**
 * Predefined variables: `CI=true`, `SLIPWAY_*`, and the common `CI_*` names of GitLab
 * CI so that existing scripts keep working. Documented in docs/pipeline.md.
 *
 * Precedence, lowest first, applied by whoever runs a job: predefined, pipeline file
 * (global, job, matrix, rule), project variables and secrets, trigger variables.
 * CI_PROJECT_DIR and CI_BUILDS_DIR are added by the executor, which knows the workspace.
 */

export type PredefinedContext = {
  /** The server's public URL, or null for `slipway run`. */
  serverUrl: string | null;
  project: {
    name: string;
    /** The repository as given (path or URL). */
    repositoryUrl: string;
    defaultBranch: string;
  };
  commit: {
    sha: string;
    /** The commit the ref pointed at before this push, when known. */
    beforeSha: string | null;
    message: string;
    authorName: string;
    authorEmail: string;
    /** ISO 8601. */
    timestamp: string;
  };
  /** A tag build has tag set and branch null, a branch build the reverse; a commit build neither. */
  ref: { branch: string | null; tag: string | null };
  build: {
    id: string;
    /** How the build was started: push, web, api, schedule, webhook, trigger, local. */
    source: string;
    /** Link to the build in the UI, or null. */
    url: string | null;
  };
  job?: {
    id: string;
    name: string;
    stage: string;
    /** 1-based attempt number: 2 after the first retry. */
    attempt: number;
    parallel: { index: number; total: number } | null;
    url: string | null;
  };
};

const ZERO_SHA = '0000000000000000000000000000000000000000';

/** CI_COMMIT_TIMESTAMP's form, GitLab's: ISO 8601 in UTC to the second (2022-01-31T16:47:55Z). */
export function commitTimestamp(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export function predefinedVariables(ctx: PredefinedContext): Record<string, string> {
  const refName = ctx.ref.tag ?? ctx.ref.branch ?? ctx.commit.sha;
  const message = ctx.commit.message;
  const vars: Record<string, string> = {
    CI: 'true',
    SLIPWAY: 'true',
    CI_SERVER: 'yes',
    CI_SERVER_NAME: 'Slipway',
    CI_COMMIT_SHA: ctx.commit.sha,
    CI_COMMIT_SHORT_SHA: ctx.commit.sha.slice(0, 8),
    CI_COMMIT_BEFORE_SHA: ctx.commit.beforeSha ?? ZERO_SHA,
    CI_COMMIT_REF_NAME: refName,
    CI_COMMIT_REF_SLUG: slug(refName),
    CI_COMMIT_MESSAGE: message,
    CI_COMMIT_TITLE: message.split('\n', 1)[0] ?? '',
    CI_COMMIT_DESCRIPTION: message.includes('\n') ? message.slice(message.indexOf('\n') + 1).trim() : '',
    CI_COMMIT_AUTHOR: `${ctx.commit.authorName} <${ctx.commit.authorEmail}>`,
    CI_COMMIT_TIMESTAMP: ctx.commit.timestamp,
    CI_DEFAULT_BRANCH: ctx.project.defaultBranch,
    CI_PIPELINE_ID: ctx.build.id,
    CI_PIPELINE_IID: ctx.build.id,
    CI_PIPELINE_SOURCE: ctx.build.source,
    CI_PROJECT_NAME: ctx.project.name,
    CI_PROJECT_PATH: ctx.project.name,
    CI_PROJECT_PATH_SLUG: slug(ctx.project.name),
    CI_REPOSITORY_URL: ctx.project.repositoryUrl,
    SLIPWAY_PROJECT: ctx.project.name,
    SLIPWAY_BUILD_ID: ctx.build.id,
    SLIPWAY_COMMIT: ctx.commit.sha,
    SLIPWAY_REF: refName,
  };
  // GitLab's rule: a tag build has CI_COMMIT_TAG and no CI_COMMIT_BRANCH, a branch build the reverse.
  if (ctx.ref.tag !== null) vars.CI_COMMIT_TAG = ctx.ref.tag;
  else if (ctx.ref.branch !== null) vars.CI_COMMIT_BRANCH = ctx.ref.branch;
  if (ctx.serverUrl !== null) {
    vars.CI_SERVER_URL = ctx.serverUrl;
    vars.SLIPWAY_SERVER_URL = ctx.serverUrl;
  }
  if (ctx.build.url !== null) {
    vars.CI_PIPELINE_URL = ctx.build.url;
    vars.SLIPWAY_BUILD_URL = ctx.build.url;
  }
  const job = ctx.job;
  if (job !== undefined) {
    vars.CI_JOB_ID = job.id;
    vars.CI_JOB_NAME = job.name;
    vars.CI_JOB_NAME_SLUG = slug(job.name);
    vars.CI_JOB_STAGE = job.stage;
    vars.SLIPWAY_JOB_ID = job.id;
    vars.SLIPWAY_JOB_NAME = job.name;
    vars.SLIPWAY_JOB_ATTEMPT = String(job.attempt);
    if (job.parallel !== null) {
      vars.CI_NODE_INDEX = String(job.parallel.index);
      vars.CI_NODE_TOTAL = String(job.parallel.total);
    }
    if (job.url !== null) vars.CI_JOB_URL = job.url;
  }
  return vars;
}

/** GitLab's slug: lower case, [a-z0-9] kept, others become '-', at most 63 chars, no '-' at the ends. */
function slug(text: string): string {
  return text
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .slice(0, 63)
    .replace(/^-+|-+$/g, '');
}
