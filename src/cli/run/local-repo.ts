import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { SlipwayError } from '../../errors/index.js';
import { gitText, gitTextOrNull, type BaseEnv } from '../../git/index.js';

/**
 * What `slipway run` needs to know about the repository it is started in: where it is,
 * which directory inside it is the project, which commit and ref to run, and what the
 * commit changed (for `rules: changes:`). git runs in the user's environment (baseEnv), not isolated
 * (a GIT_DIR they set is theirs to set), only never prompting for a password.
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

export async function inspectRepo(cwd: string, dirty: boolean, baseEnv: BaseEnv): Promise<LocalRepo> {
  const root = (await gitTextOrNull(['rev-parse', '--show-toplevel'], { cwd, baseEnv }))?.trim();
  if (root === undefined || root === '') {
    throw new SlipwayError('USAGE', `${cwd} is not inside a git repository: run slipway run in a git checkout (git init, then commit).`);
  }
  const sha = (await gitTextOrNull(['rev-parse', '--verify', '-q', 'HEAD^{commit}'], { cwd: root, baseEnv }))?.trim();
  if (sha === undefined || sha === '') {
    throw new SlipwayError('USAGE', `the repository at ${root} has no commit yet: commit your files first (or see --dirty once there is a first commit).`);
  }
  const subdirectory = (await gitText(['rev-parse', '--show-prefix'], { cwd, baseEnv })).trim().replace(/\/$/, '');
  const [meta, branch, tag, defaultBranch, beforeSha] = await Promise.all([
    gitText(['log', '-1', '--format=%an%x00%ae%x00%cI%x00%B', sha], { cwd: root, baseEnv }),
    gitTextOrNull(['symbolic-ref', '--short', '-q', 'HEAD'], { cwd: root, baseEnv }),
    gitTextOrNull(['describe', '--tags', '--exact-match', sha], { cwd: root, baseEnv }),
    findDefaultBranch(root, baseEnv),
    gitTextOrNull(['rev-parse', '--verify', '-q', `${sha}^1`], { cwd: root, baseEnv }),
  ]);
  const [authorName = '', authorEmail = '', timestamp = '', message = ''] = meta.split('\0');
  const before = beforeSha?.trim() || null;
  const [committedChanges, uncommitted, existingPaths] = await Promise.all([
    before === null ? null : gitText(['diff', '--name-only', '-z', '--no-renames', before, sha], { cwd: root, baseEnv }).then(splitZ),
    dirty ? gitText(['ls-files', '-z', '--modified', '--deleted', '--others', '--exclude-standard'], { cwd: root, baseEnv }).then(splitZ) : [],
    // With --dirty the working tree is what runs, so `exists:` looks there.
    gitText(dirty ? ['ls-files', '-z', '--cached', '--others', '--exclude-standard'] : ['ls-tree', '-r', '-z', '--name-only', sha], { cwd: root, baseEnv }).then(splitZ),
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
export async function readPipelineFile(repo: LocalRepo, file: string, dirty: boolean, baseEnv: BaseEnv): Promise<string> {
  const inRepo = path.posix.join(repo.subdirectory, file);
  if (dirty) {
    try {
      return await readFile(path.join(repo.root, inRepo), 'utf8');
    } catch (error) {
      throw new SlipwayError('PIPELINE_NOT_FOUND', `no pipeline file ${inRepo} in the working tree: create it, or pass --file.`, { cause: error });
    }
  }
  const text = await gitTextOrNull(['show', `${repo.commit.sha}:${inRepo}`], { cwd: repo.root, baseEnv });
  if (text === null) {
    const onDisk = await readFile(path.join(repo.root, inRepo), 'utf8').then(() => true, () => false);
    const hint = onDisk ? 'it exists but is not committed: commit it, or run with --dirty' : 'create it, or pass --file';
    throw new SlipwayError('PIPELINE_NOT_FOUND', `no pipeline file ${inRepo} in commit ${repo.commit.sha.slice(0, 8)}: ${hint}.`);
  }
  return text;
}

async function findDefaultBranch(root: string, baseEnv: BaseEnv): Promise<string> {
  const remoteHead = await gitTextOrNull(['symbolic-ref', '--short', '-q', 'refs/remotes/origin/HEAD'], { cwd: root, baseEnv });
  if (remoteHead !== null && remoteHead.trim() !== '') return remoteHead.trim().replace(/^origin\//, '');
  const configured = await gitTextOrNull(['config', '--get', 'init.defaultBranch'], { cwd: root, baseEnv });
  return configured?.trim() || 'main';
}

function splitZ(text: string): string[] {
  return text.split('\0').filter((p) => p !== '');
}
