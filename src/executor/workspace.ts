import { randomBytes } from 'node:crypto';
import type { Stats } from 'node:fs';
import { chmod, copyFile, lstat, mkdir, readdir, readlink, rm, stat, symlink } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { extractArchive } from '../archive/index.js';
import { SlipwayError, messageOf } from '../errors/index.js';
import { repositoryName } from '../git/index.js';
import { checkoutCommit, ensureMirror, git, type GitContext } from './git.js';
import { plural, shortSha } from './format.js';
import type { SourceArchive, SourceSpec } from './types.js';

/**
 * A job's workspace: `workRoot/<job>-<random>/` holding the checkout (named after the
 * repository, so tools that name things after their directory behave) and, beside
 * it, `<repository>.tmp/` for the executor's own files (scripts, archives in
 * transit), which must never show up among the project's files.
 */
export type Workspace = {
  /** Everything the job owns; removed at the end. */
  jobDir: string;
  /** The checkout; checkoutSource says where in it the project directory is. */
  repoDir: string;
  tmpDir: string;
};

export async function createWorkspace(workRoot: string, jobName: string, repository: string): Promise<Workspace> {
  const root = resolve(workRoot);
  const slug = jobName.replace(/[^A-Za-z0-9._-]+/g, '-').replace(/^[-.]+|-+$/g, '').slice(0, 40) || 'job';
  const jobDir = join(root, `${slug}-${randomBytes(4).toString('hex')}`);
  const name = repositoryName(repository);
  const repoName = name === '' || name.startsWith('.') ? 'project' : name;
  const repoDir = join(jobDir, repoName);
  const tmpDir = join(jobDir, `${repoName}.tmp`);
  try {
    await mkdir(tmpDir, { recursive: true });
  } catch (error) {
    throw new SlipwayError('WORKSPACE_FAILED', `could not create the workspace in ${root}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  return { jobDir, repoDir, tmpDir };
}

const FULL_SHA = /^(?:[0-9a-f]{40}|[0-9a-f]{64})$/;

/** Checks out source into the workspace and returns the project directory. */
export async function checkoutSource(
  workspace: Workspace,
  source: SourceSpec,
  gitCacheDir: string,
  context: GitContext,
  say: (line: string) => void,
): Promise<string> {
  if (!FULL_SHA.test(source.commit)) {
    throw new SlipwayError('GIT_FAILED', `'${source.commit}' is not a full commit SHA (40 or 64 hexadecimal digits)`);
  }
  const subdirectory = source.subdirectory.replace(/^\.?\/+|\/+$/g, '');
  if (subdirectory.startsWith('/') || subdirectory.split('/').includes('..')) {
    throw new SlipwayError('WORKSPACE_FAILED', `the project directory '${source.subdirectory}' is outside the repository`);
  }
  if (source.archive !== undefined && source.archive !== null) {
    await extractSource(workspace, source.archive);
    say(`Fetched ${shortSha(source.commit)} from ${source.archive.from} (${source.archive.reason})`);
  } else {
    const mirror = await ensureMirror(source.repository, source.commit, resolve(gitCacheDir), context, say);
    say(`Checking out ${shortSha(source.commit)} in ${workspace.repoDir}`);
    await checkoutCommit(mirror, source.repository, source.commit, workspace.repoDir, context);
    say(`Checked out ${shortSha(source.commit)} with git`);
  }
  if (source.overlayFrom !== null) {
    const { copied, deleted, skipped } = await overlayChanges(source.overlayFrom, workspace.repoDir, context);
    say(`Applied the uncommitted changes of ${source.overlayFrom}: ${plural(copied, 'file')} copied, ${deleted} deleted`);
    for (const path of skipped) say(`WARNING: skipped '${path}': a directory (a submodule or a nested repository)`);
  }
  const projectDir = subdirectory === '' ? workspace.repoDir : join(workspace.repoDir, subdirectory);
  if (!(await stat(projectDir).catch(() => null))?.isDirectory()) {
    throw new SlipwayError(
      'WORKSPACE_FAILED',
      `the project directory '${subdirectory}' does not exist in commit ${shortSha(source.commit)}`,
    );
  }
  return projectDir;
}

/**
 * The tree of a source archive, extracted into the checkout's place under the rules of
 * every archive (src/archive): nothing may land outside it.
 */
async function extractSource(workspace: Workspace, archive: SourceArchive): Promise<void> {
  const tar = join(workspace.tmpDir, 'source.tar');
  try {
    await archive.download(tar);
  } catch (error) {
    throw new SlipwayError('WORKSPACE_FAILED', `could not fetch the source from ${archive.from}: ${messageOf(error)}`, {
      cause: error,
    });
  }
  try {
    await mkdir(workspace.repoDir, { recursive: true });
    await extractArchive(tar, workspace.repoDir);
  } finally {
    await rm(tar, { force: true });
  }
}

/**
 * Lays the uncommitted changes of a working tree over the checkout: what git status
 * lists (modified, added, untracked but not ignored) is copied, what it lists and is
 * gone from the working tree is deleted.
 */
export async function overlayChanges(
  from: string,
  repoDir: string,
  context: GitContext,
): Promise<{ copied: number; deleted: number; skipped: string[] }> {
  const top = (await git(['rev-parse', '--show-toplevel'], resolve(from), context)).toString('utf8').trim();
  const status = await git(['status', '--porcelain=v1', '-z', '--untracked-files=all', '--no-renames'], top, context);
  const paths = status
    .toString('utf8')
    .split('\0')
    .filter((entry) => entry.length > 3)
    .map((entry) => entry.slice(3));
  let copied = 0;
  let deleted = 0;
  const skipped: string[] = [];
  const present: Array<{ path: string; stats: Stats }> = [];
  // Deletions first: a file replaced by a directory of the same name (or the reverse)
  // needs the old one gone before the new one is copied.
  for (const path of new Set(paths)) {
    if (path.startsWith('/') || path.split('/').includes('..')) continue; // git never says so; be sure
    const stats = await lstat(join(top, path)).catch(() => null);
    if (stats !== null) {
      present.push({ path, stats });
      continue;
    }
    await rm(join(repoDir, path), { recursive: true, force: true });
    deleted += 1;
  }
  for (const { path, stats } of present) {
    const source = join(top, path);
    const target = join(repoDir, path);
    if (stats.isDirectory()) {
      skipped.push(path);
      continue;
    }
    await mkdir(dirname(target), { recursive: true });
    await rm(target, { recursive: true, force: true });
    if (stats.isSymbolicLink()) {
      await symlink(await readlink(source), target);
    } else {
      await copyFile(source, target);
      await chmod(target, stats.mode & 0o7777);
    }
    copied += 1;
  }
  return { copied, deleted, skipped };
}

/**
 * Removes a workspace, even when a job left read-only directories behind (Go's module
 * cache makes them): on a permission error, gives the owner write access and retries.
 */
export async function removeWorkspace(jobDir: string): Promise<void> {
  try {
    await rm(jobDir, { recursive: true, force: true, maxRetries: 2 });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code !== 'EACCES' && code !== 'EPERM') throw error;
    await makeWritable(jobDir);
    await rm(jobDir, { recursive: true, force: true, maxRetries: 2 });
  }
}

async function makeWritable(dir: string): Promise<void> {
  const stats = await lstat(dir).catch(() => null);
  if (stats === null || !stats.isDirectory()) return;
  await chmod(dir, (stats.mode & 0o7777) | 0o700);
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) await makeWritable(join(dir, entry.name));
  }
}
