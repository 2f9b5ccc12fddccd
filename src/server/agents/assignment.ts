import { commitTimestamp, predefinedVariables, type JobSpec } from '../../pipeline/index.js';
import type { Assignment } from '../../protocol/index.js';
import type { Job, JobAttempt, Store } from '../../store/index.js';
import { decryptSecret } from '../crypto/index.js';
import { WEBHOOK_SECRET_NAME } from '../triggers/index.js';

export type AssignmentContext = {
  store: Store;
  secretsKey: Buffer;
  /** Where agents reach this server (no trailing slash). */
  publicUrl: string;
  /** The image registry builds push to (config registry.address); null or absent: none. */
  registryAddress?: string | null;
};

/**
 * What an agent needs to run one attempt of a job. Variables, lowest precedence first:
 * predefined, the pipeline file's (spec.variables), the project's, its secrets, the
 * build's trigger variables (the order of docs/pipeline.md). Secret values are masked. The
 * registry variables (registryVariables) rank with the predefined ones.
 */
export async function buildAssignment(ctx: AssignmentContext, job: Job, attempt: JobAttempt, token: string): Promise<Assignment> {
  const { store, publicUrl } = ctx;
  const spec = job.spec as JobSpec;
  const build = await store.builds.get(job.buildId);
  if (build === null) throw new Error(`job ${job.id} has no build ${job.buildId}`);
  const project = await store.projects.getOrThrow(job.projectId);
  const secrets: Record<string, string> = {};
  for (const { name, ciphertext } of await store.secrets.listEncrypted(project.id)) {
    // The webhook secret authenticates the provider to the server; a build has no use for it.
    if (name === WEBHOOK_SECRET_NAME) continue;
    secrets[name] = decryptSecret(ctx.secretsKey, { projectId: project.id, name }, ciphertext);
  }
  const author = /^(.*?)\s*<([^>]*)>$/.exec(build.commitAuthor ?? '');
  const tag = build.refKind === 'tag' ? build.ref : null;
  const predefined = predefinedVariables({
    serverUrl: publicUrl,
    project: { name: project.name, repositoryUrl: project.repositoryUrl, defaultBranch: project.defaultBranch },
    commit: {
      sha: build.commitSha,
      beforeSha: build.beforeSha,
      message: build.commitMessage ?? '',
      authorName: author?.[1] ?? build.commitAuthor ?? '',
      authorEmail: author?.[2] ?? '',
      // Builds stored before the commit time was kept: their creation is the closest known.
      timestamp: commitTimestamp(build.commitTimestamp ?? build.createdAt),
    },
    ref: { branch: build.refKind === 'branch' ? build.ref : null, tag },
    build: { id: String(build.id), source: build.source, url: null },
    job: { id: String(job.id), name: job.name, stage: job.stage, attempt: attempt.number, parallel: spec.parallel, url: null },
  });
  const base = `${publicUrl}/api/v1/attempts/${attempt.id}`;
  const artifacts: Assignment['artifacts'] = [];
  if (spec.artifactsFrom.length > 0) {
    const jobs = await store.jobs.listByBuild(build.id);
    const stored = await store.artifacts.listByBuild(build.id);
    for (const name of spec.artifactsFrom) {
      const from = jobs.find((candidate) => candidate.name === name);
      if (from !== undefined && stored.some((artifact) => artifact.jobId === from.id)) {
        artifacts.push({ job: name, url: `${base}/artifacts/${from.id}` });
      }
    }
  }
  return {
    type: 'assign',
    attemptId: attempt.id,
    token,
    job: spec,
    variables: { ...predefined, ...registryVariables(ctx.registryAddress ?? null, project.name, { tag, commitSha: build.commitSha, createdAt: build.createdAt }), ...spec.variables, ...project.variables, ...secrets, ...build.triggerVariables },
    source: { repository: project.repositoryUrl, commit: build.commitSha, subdirectory: '', archiveUrl: `${base}/source` },
    artifacts,
    cacheUrl: `${base}/caches`,
    artifactsUploadUrl: `${base}/artifacts`,
    masked: Object.values(secrets).filter((value) => value !== ''),
  };
}

/**
 * SLIPWAY_REGISTRY, SLIPWAY_REGISTRY_IMAGE and SLIPWAY_IMAGE_TAG (docs/docker.md): where a
 * job pushes the image it builds, and a tag unique to the build: the tag name of a tag
 * build, else the short commit, then the build's creation time (UTC), so that tags sort
 * by time and a rebuild of a commit gets a new one. None without a registry.
 */
export function registryVariables(address: string | null, projectName: string, build: { tag: string | null; commitSha: string; createdAt: number }): Record<string, string> {
  if (address === null) return {};
  // Repository names are lowercase in the registry API; tags allow [A-Za-z0-9_.-] only.
  const image = `${address}/${projectName.toLowerCase().replace(/[^a-z0-9._/-]/g, '-')}`;
  const version = build.tag === null ? build.commitSha.slice(0, 8) : build.tag.replace(/[^A-Za-z0-9_.-]/g, '-');
  const at = new Date(build.createdAt).toISOString();
  const timestamp = at.slice(0, 19).replace(/[-:T]/g, '');
  return { SLIPWAY_REGISTRY: address, SLIPWAY_REGISTRY_IMAGE: image, SLIPWAY_IMAGE_TAG: `${image}:${version}-${timestamp}` };
}
