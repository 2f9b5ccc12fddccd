import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SlipwayError } from '../../errors/index.js';
import { git, gitOrNull } from './git.js';

/**
 * What `slipway run` needs to know about the repository it is started in: where it is,
 * which directory inside it is the project, which commit and ref to run, and what the
 * commit changed (for `rules: changes:`).
 */
export type LocalRepo = {
  root: string;
  /** The project directory relative to the root, '' at the root, with '/' separators. */
  subdirectory: string;
  commit: {
    sha: string;
    beforeSha: string | null;
    message: string;
    authorName: string;
    authorEmail: string;
    timestamp: string;
  };
  branch: string | null;
  tag: string | null;
  defaultBranch: string;
  /** Paths changed by the commit against its first parent (plus uncommitted ones with --dirty). */
  changedPaths: string[] | null;
  /** Paths that exist in the commit (or in the working tree with --dirty). */
  existingPaths: string[];
};

export async function inspectRepo(cwd: string, dirty: boolean): Promise<LocalRepo> {
  const root = (await gitOrNull(cwd, ['rev-parse', '--show-toplevel']))?.trim();
  if (root === undefined || root === '') {
    throw new SlipwayError('USAGE', `${cwd} is not inside a git repository: run slipway run in a git checkout (git init, then commit).`);
  }
  const sha = (await gitOrNull(root, ['rev-parse', '--verify', '-q', 'HEAD^{commit}']))?.trim();
  if (sha === undefined || sha === '') {
    throw new SlipwayError('USAGE', `the repository at ${root} has no commit yet: commit your files first (or see --dirty once there is a first commit).`);
  }
  const subdirectory = (await git(cwd, ['rev-parse', '--show-prefix'])).trim().replace(/\/$/, '');
  const [meta, branch, tag, defaultBranch, beforeSha] = await Promise.all([
    git(root, ['log', '-1', '--format=%an%x00%ae%x00%cI%x00%B', sha]),
    gitOrNull(root, ['symbolic-ref', '--short', '-q', 'HEAD']),
    gitOrNull(root, ['describe', '--tags', '--exact-match', sha]),
    findDefaultBranch(root),
    gitOrNull(root, ['rev-parse', '--verify', '-q', `${sha}^1`]),
  ]);
  const [authorName = '', authorEmail = '', timestamp = '', message = ''] = meta.split('\0');
  const before = beforeSha?.trim() || null;
  const [committedChanges, uncommitted, existingPaths] = await Promise.all([
    before === null ? null : git(root, ['diff', '--name-only', '-z', '--no-renames', before, sha]).then(splitZ),
    dirty ? git(root, ['ls-files', '-z', '--modified', '--deleted', '--others', '--exclude-standard']).then(splitZ) : [],
    // With --dirty the working tree is what runs, so `exists:` looks there.
    git(root, dirty ? ['ls-files', '-z', '--cached', '--others', '--exclude-standard'] : ['ls-tree', '-r', '-z', '--name-only', sha]).then(splitZ),
  ]);
  const changedPaths = committedChanges === null ? null : [...new Set([...committedChanges, ...uncommitted])];
  return {
    root,
    subdirectory,
    commit: { sha, beforeSha: before, message: message.trim(), authorName, authorEmail, timestamp },
    branch: branch?.trim() || null,
    tag: tag?.trim() || null,
    defaultBranch,
    changedPaths,
    existingPaths,
  };
}

/** The pipeline file's text: from the commit, or from the working tree with --dirty. */
export async function readPipelineFile(repo: LocalRepo, file: string, dirty: boolean): Promise<string> {
  const inRepo = path.posix.join(repo.subdirectory, file);
  if (dirty) {
    try {
      return await readFile(path.join(repo.root, inRepo), 'utf8');
    } catch (error) {
      throw new SlipwayError('PIPELINE_NOT_FOUND', `no pipeline file ${inRepo} in the working tree: create it, or pass --file.`, { cause: error });
    }
  }
  const text = await gitOrNull(repo.root, ['show', `${repo.commit.sha}:${inRepo}`]);
  if (text === null) {
    const onDisk = await readFile(path.join(repo.root, inRepo), 'utf8').then(() => true, () => false);
    const hint = onDisk ? 'it exists but is not committed: commit it, or run with --dirty' : 'create it, or pass --file';
    throw new SlipwayError('PIPELINE_NOT_FOUND', `no pipeline file ${inRepo} in commit ${repo.commit.sha.slice(0, 8)}: ${hint}.`);
  }
  return text;
}

async function findDefaultBranch(root: string): Promise<string> {
  const remoteHead = await gitOrNull(root, ['symbolic-ref', '--short', '-q', 'refs/remotes/origin/HEAD']);
  if (remoteHead !== null && remoteHead.trim() !== '') return remoteHead.trim().replace(/^origin\//, '');
  const configured = await gitOrNull(root, ['config', '--get', 'init.defaultBranch']);
  return configured?.trim() || 'main';
}

function splitZ(text: string): string[] {
  return text.split('\0').filter((p) => p !== '');
}
