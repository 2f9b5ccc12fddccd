import { z } from 'zod';

/** Shapes shared by several routes. Messages say what to change; they reach the user as `field: message`. */

export const projectName = z
  .string()
  .regex(/^[a-z0-9][a-z0-9._-]*$/, { error: "use lowercase letters, digits, '.', '_' and '-', starting with a letter or digit" })
  .max(100, { error: 'use at most 100 characters' });

const scpLike = /^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:[^\s]+$/;

/** Where a project's git repository is: a local path, file://, http(s)://, ssh://, or scp-like user@host:path. */
export function isRepositoryUrl(value: string): boolean {
  // Whitespace and control characters never belong in a repository address; refusing them
  // keeps a pasted newline from reaching git's command line.
  if (value.length === 0 || /\s/.test(value) || [...value].some((c) => c.charCodeAt(0) < 0x20 || c.charCodeAt(0) === 0x7f)) return false;
  if (value.startsWith('/')) return true;
  if (scpLike.test(value) && !value.includes('://')) return true;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return false;
  }
  if (url.protocol === 'file:') return url.pathname.length > 1;
  if (['http:', 'https:', 'ssh:'].includes(url.protocol)) return url.hostname !== '' && url.pathname.length > 1;
  return false;
}

export const repositoryUrl = z
  .string()
  .max(2000, { error: 'use at most 2000 characters' })
  .refine(isRepositoryUrl, {
    error: 'give an absolute local path, a file://, http(s):// or ssh:// URL, or user@host:path (such as git@github.com:team/app.git)',
  });

export const branchName = z
  .string()
  .max(255, { error: 'use at most 255 characters' })
  .refine((b) => /^[A-Za-z0-9._/+-]+$/.test(b) && !b.startsWith('-') && !b.startsWith('/') && !b.endsWith('/') && !b.endsWith('.lock') && !b.includes('..') && !b.includes('//'), {
    error: "give a git branch name such as main or release/1.2 (letters, digits, '.', '_', '-', '+' and '/', without '..')",
  });

export const pipelinePath = z
  .string()
  .max(255, { error: 'use at most 255 characters' })
  .refine((p) => p.length > 0 && !p.startsWith('/') && !p.split('/').includes('..') && !/[\s\\]/.test(p), {
    error: "give a path inside the repository such as .slipway.yml or ci/pipeline.yml (relative, no '..')",
  });

export const variableName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'use letters, digits and _, not starting with a digit' }).max(100);

export const variables = z.record(variableName, z.string({ error: 'give variable values as strings' }), { error: 'give variables as a mapping of NAME: value' });

export const concurrencyLimit = z
  .number({ error: 'give a whole number of at least 1, or null for no limit' })
  .int({ error: 'give a whole number of at least 1, or null for no limit' })
  .min(1, { error: 'give a whole number of at least 1, or null for no limit' })
  .nullable();

export const priority = z
  .number({ error: 'give a whole number (higher runs first)' })
  .int({ error: 'give a whole number (higher runs first)' })
  .min(-1_000_000)
  .max(1_000_000);

export const pollIntervalSeconds = z
  .number({ error: 'give a whole number of seconds of at least 10, or null for no polling' })
  .int({ error: 'give a whole number of seconds of at least 10, or null for no polling' })
  .min(10, { error: 'poll at most every 10 seconds (give at least 10), or null for no polling' })
  .nullable();

export const project = z.object({
  id: z.number().int(),
  name: z.string(),
  repositoryUrl: z.string(),
  defaultBranch: z.string(),
  pipelinePath: z.string(),
  variables: z.record(z.string(), z.string()),
  concurrencyLimit: z.number().int().nullable(),
  priority: z.number().int(),
  pollIntervalSeconds: z.number().int().nullable(),
  lastPolledCommit: z.string().nullable(),
  createdAt: z.number().int().describe('milliseconds since the epoch'),
  updatedAt: z.number().int().describe('milliseconds since the epoch'),
});

/** A project as the API returns it. */
export type ApiProject = z.infer<typeof project>;

export const newProject = z.strictObject({
  name: projectName,
  repositoryUrl,
  defaultBranch: branchName.optional(),
  pipelinePath: pipelinePath.optional(),
  variables: variables.optional(),
  concurrencyLimit: concurrencyLimit.optional(),
  priority: priority.optional(),
  pollIntervalSeconds: pollIntervalSeconds.optional(),
});

export const projectPatch = newProject.partial();

export const pageQuery = z.strictObject({
  limit: z.coerce
    .number({ error: 'give a whole number from 1 to 500' })
    .int({ error: 'give a whole number from 1 to 500' })
    .min(1, { error: 'give a whole number from 1 to 500' })
    .max(500, { error: 'give a whole number from 1 to 500' })
    .optional(),
  cursor: z.string().min(1, { error: 'pass the nextCursor of the previous page unchanged' }).optional(),
});

export function page<T extends z.ZodType>(item: T) {
  return z.object({
    items: z.array(item),
    nextCursor: z.string().nullable().describe('pass as ?cursor= for the next page; null on the last page'),
  });
}

export const tokenScope = z.enum(['read', 'write', 'admin'], { error: 'give read, write or admin' });

export const token = z.object({
  id: z.number().int(),
  name: z.string(),
  scopes: z.array(tokenScope),
  createdAt: z.number().int(),
  lastUsedAt: z.number().int().nullable(),
  revokedAt: z.number().int().nullable(),
  expiresAt: z.number().int().nullable(),
});

export const tokenName = z.string().min(1, { error: 'give the token a name (who or what uses it)' }).max(100, { error: 'use at most 100 characters' });

export const expiresAt = z
  .number({ error: 'give expiresAt in milliseconds since the epoch, or null for no expiry' })
  .int({ error: 'give expiresAt in milliseconds since the epoch, or null for no expiry' })
  .nullable()
  .optional();

export const idParam = z.strictObject({
  id: z.coerce.number({ error: 'give a token id (a whole number)' }).int({ error: 'give a token id (a whole number)' }).min(1, { error: 'give a token id (a whole number)' }),
});

export const projectParams = z.strictObject({ name: projectName });

// Builds and jobs as the API shows them; here (zod only) so that the web UI can derive its types from them.
export const buildStatus = z.enum(['created', 'pending', 'running', 'success', 'failed', 'canceled', 'error', 'skipped'], {
  error: 'give one of created, pending, running, success, failed, canceled, error, skipped',
});
const time = z.number().int().nullable().describe('milliseconds since the epoch');

export const jobView = z.object({
  id: z.number().int(),
  buildId: z.number().int(),
  projectId: z.number().int(),
  name: z.string(),
  stage: z.string(),
  status: z.string(),
  when: z.string(),
  needs: z.array(z.string()).nullable().describe('null: waits for every job of earlier stages'),
  labels: z.array(z.string()),
  failureAllowed: z.boolean().describe('failed, and allow_failure covers the failure'),
  failure: z.object({ kind: z.string(), message: z.string(), exitCode: z.number().int().optional() }).nullable(),
  attempts: z.number().int(),
  queuedAt: time,
  startedAt: time,
  finishedAt: time,
  notBefore: time,
  createdAt: z.number().int(),
});

export const buildView = z.object({
  id: z.number().int(),
  projectId: z.number().int(),
  project: z.string(),
  number: z.number().int(),
  status: z.string(),
  ref: z.string().describe('the branch or tag name, or the commit as given'),
  refKind: z.enum(['branch', 'tag', 'commit']).describe('what ref names: a tag build has CI_COMMIT_TAG and no CI_COMMIT_BRANCH, a branch build the reverse'),
  commitSha: z.string(),
  commitMessage: z.string().nullable(),
  commitAuthor: z.string().nullable().describe('Name <email>'),
  commitTimestamp: time.describe("the commit's author date, milliseconds since the epoch; null for builds made before it was kept"),
  beforeSha: z.string().nullable().describe('pushes: the commit the ref pointed at before (CI_COMMIT_BEFORE_SHA); null when unknown'),
  logsExpired: z.boolean().describe("retention deleted the logs of the build's jobs (retention.logsDays)"),
  source: z.string(),
  variables: z.record(z.string(), z.string()).describe('the trigger variables'),
  errors: z.array(z.object({ file: z.string(), line: z.number().int(), column: z.number().int(), message: z.string() })).nullable().describe("status 'error': what is wrong in the pipeline file"),
  reason: z.string().nullable().describe("status 'skipped': why the workflow rules did not run it"),
  url: z.string().describe('the build in the web UI'),
  createdAt: z.number().int(),
  startedAt: time,
  finishedAt: time,
});
