import { resolve } from 'node:path';
import { cloneSource, createMirrorCache, git as runGit, type BaseEnv } from '../git/index.js';

/**
 * Git for a job (the agent's image must have git). Every job on a machine shares one
 * bare mirror per repository under gitCacheDir (src/git: created atomically, fetched
 * only when the commit is new, safe for jobs in this and other processes at once); a
 * job clones from it with `--shared`, so a checkout costs a fetch only when the commit
 * is new.
 */

export type GitContext = { signal: AbortSignal; killGraceMs: number; baseEnv: BaseEnv };

/** Runs git on a repository the job names by path; throws GIT_FAILED with the tail of its stderr. */
export function git(args: readonly string[], cwd: string, context: GitContext): Promise<Buffer> {
  return runGit(args, { cwd, isolated: true, ...context });
}

/**
 * Makes sure the mirror of repository exists and holds commit; returns its path.
 * Throws GIT_FAILED when the repository cannot be read or the commit is not in it.
 */
export function ensureMirror(
  repository: string,
  commit: string,
  gitCacheDir: string,
  context: GitContext,
  say: (line: string) => void,
): Promise<string> {
  return createMirrorCache({ dir: gitCacheDir, baseEnv: context.baseEnv }).withCommit(repository, commit, { signal: context.signal, killGraceMs: context.killGraceMs, say });
}

/** Clones the mirror into dir and checks out commit, detached. */
export async function checkoutCommit(
  mirror: string,
  repository: string,
  commit: string,
  dir: string,
  context: GitContext,
): Promise<void> {
  await git(['clone', '--shared', '--no-checkout', '--quiet', '--', mirror, dir], resolve(dir, '..'), context);
  // Scripts that fetch or push should talk to the real repository, not the mirror.
  await git(['remote', 'set-url', 'origin', cloneSource(repository)], dir, context);
  await git(['-c', 'advice.detachedHead=false', 'checkout', '--detach', '--quiet', commit], dir, context);
}
