import { commitTimestamp, parsePipeline, planPipeline, predefinedVariables, type JobSpec, type Plan, type PipelineDiagnostic } from '../../pipeline/index.js';
import type { BuildError, BuildSource, NewBuild, NewJob, Project } from '../../store/index.js';
import type { GitMirrors, ResolvedRef } from '../git/index.js';

/** What a skipped build stores as its plan: why nothing runs. */
export type SkippedPlan = { skipped: string };

const ZERO_SHA = /^0+$/;

export type PrepareInput = {
  project: Project;
  ref: ResolvedRef & { name: string };
  variables: Record<string, string>;
  source: BuildSource;
  beforeSha: string | null;
  serverUrl: string | null;
};

/**
 * Reads and plans the pipeline file at a commit: the build row and jobs to store, in state
 * 'created' (jobs advance after they are stored), 'error' (the file is missing or invalid)
 * or 'skipped' (the workflow rules do not run it).
 */
export async function prepareBuild(git: GitMirrors, input: PrepareInput): Promise<{ build: NewBuild; jobs: NewJob[] }> {
  const { project, ref } = input;
  const repo = project.repositoryUrl;
  // The four questions are independent processes (changedPaths needs only the parent): asked at once, not in turn.
  const infoAsked = git.commitInfo(repo, ref.sha);
  const givenBefore = input.beforeSha !== null && !ZERO_SHA.test(input.beforeSha) ? input.beforeSha : null;
  const changedAsked = infoAsked.then((commit) => {
    const before = givenBefore ?? commit.parentSha;
    return before === null ? null : git.changedPaths(repo, before, ref.sha).then((paths) => ({ paths }));
  });
  const [info, text, existingPaths, changed] = await Promise.all([
    infoAsked,
    git.readFileAt(repo, ref.sha, project.pipelinePath),
    git.listPaths(repo, ref.sha),
    changedAsked,
  ]);
  const committedAt = Date.parse(info.timestamp);
  const base: NewBuild = {
    projectId: project.id,
    status: 'created',
    ref: ref.name,
    refKind: ref.tag !== null ? 'tag' : ref.branch !== null ? 'branch' : 'commit',
    commitSha: ref.sha,
    commitMessage: info.message,
    commitAuthor: `${info.authorName} <${info.authorEmail}>`,
    commitTimestamp: Number.isNaN(committedAt) ? null : committedAt,
    beforeSha: givenBefore,
    source: input.source,
    triggerVariables: input.variables,
  };
  const file = project.pipelinePath;
  const error = (errors: BuildError[]) => ({ build: { ...base, status: 'error' as const, errors }, jobs: [] });

  if (text === null) {
    return error([{ file, line: 1, column: 1, message: `commit ${ref.sha.slice(0, 8)} has no ${file}; add the pipeline file, or change the project's pipelinePath` }]);
  }
  const parsed = parsePipeline(text, file);
  if (!parsed.ok) return error(parsed.errors.map(toBuildError));

  // A root commit changed every path it has; an unknown `before` (force push) leaves changes unknown, so `changes:` rules match.
  const changedPaths = changed === null ? existingPaths : changed.paths;
  const predefined = predefinedVariables({
    serverUrl: input.serverUrl,
    project: { name: project.name, repositoryUrl: repo, defaultBranch: project.defaultBranch },
    commit: {
      sha: ref.sha,
      beforeSha: givenBefore,
      message: info.message,
      authorName: info.authorName,
      authorEmail: info.authorEmail,
      timestamp: Number.isNaN(committedAt) ? info.timestamp : commitTimestamp(committedAt),
    },
    ref: { branch: ref.branch, tag: ref.tag },
    // The build id is not known before the build is stored; the dispatcher sets the real one for each job.
    build: { id: '', source: input.source, url: null },
  });
  const planned = planPipeline(parsed.value, {
    variables: { ...predefined, ...project.variables, ...input.variables },
    changedPaths,
    existingPaths,
  });
  if (!planned.ok) return error(planned.errors.map(toBuildError));
  if (!planned.value.run) {
    const skipped: SkippedPlan = { skipped: planned.value.reason };
    return { build: { ...base, status: 'skipped', plan: skipped }, jobs: [] };
  }
  const plan: Plan = planned.value.plan;
  return { build: { ...base, plan }, jobs: plan.jobs.map(newJob) };
}

function newJob(spec: JobSpec): NewJob {
  return {
    name: spec.name,
    stage: spec.stage,
    status: 'created',
    spec,
    labels: spec.labels,
    cpus: spec.resources.cpus,
    memoryMiB: spec.resources.memoryMiB,
  };
}

function toBuildError(diagnostic: PipelineDiagnostic): BuildError {
  return { file: diagnostic.file, line: diagnostic.line, column: diagnostic.column, message: diagnostic.message };
}

export function isPlan(value: unknown): value is Plan {
  return typeof value === 'object' && value !== null && Array.isArray((value as Plan).jobs) && Array.isArray((value as Plan).edges);
}

export function skippedReason(value: unknown): string | null {
  return typeof value === 'object' && value !== null && typeof (value as SkippedPlan).skipped === 'string' ? (value as SkippedPlan).skipped : null;
}
