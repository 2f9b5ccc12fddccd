import path from 'node:path';
import type { JobSpec } from '../../src/pipeline/index.js';
import {
  directoryCacheStore,
  runJob,
  type JobResult,
  type OutputChunk,
  type RunJobRequest,
} from '../../src/executor/index.js';
import { commitFiles, makeRepo, tempDir } from '../support/git-repo.js';

export { makeJob } from '../support/jobs.js';

/** A real git repository: its working tree and the last commit made in it. */
type TestRepo = {
  dir: string;
  commit: string;
  /** Writes files and commits them; returns the new SHA. */
  commitFiles(files: Record<string, string>, message?: string): Promise<string>;
};

type JobRun = { result: JobResult; chunks: OutputChunk[]; log: string };

/**
 * A sandbox for running jobs: one temp dir with the repository, work root, git cache,
 * cache store and artifact archives. `run` fills every request field with a default.
 */
export async function makeSandbox(files: Record<string, string> = { 'README.md': 'hello\n' }) {
  const temp = await tempDir('executor');
  const repoDir = path.join(temp.dir, 'repo');
  const repo: TestRepo = {
    dir: repoDir,
    commit: await makeRepo(repoDir, files),
    async commitFiles(changes, message = 'change') {
      repo.commit = await commitFiles(repoDir, changes, message);
      return repo.commit;
    },
  };
  let runs = 0;
  const run = async (
    job: JobSpec,
    overrides: Partial<RunJobRequest> & { onChunk?: (chunk: OutputChunk) => void } = {},
  ): Promise<JobRun> => {
    runs += 1;
    const chunks: OutputChunk[] = [];
    const { onChunk, ...request } = overrides;
    const result = await runJob({
      job,
      variables: {},
      source: { repository: repo.dir, commit: repo.commit, subdirectory: '', overlayFrom: null },
      workRoot: path.join(temp.dir, 'work'),
      gitCacheDir: path.join(temp.dir, 'git'),
      baseEnv: process.env,
      artifactsIn: [],
      artifactsOut: path.join(temp.dir, 'artifacts', `${runs}.tar.gz`),
      cacheStore: directoryCacheStore(path.join(temp.dir, 'cache')),
      maskedValues: [],
      onOutput: (chunk) => {
        chunks.push(chunk);
        onChunk?.(chunk);
      },
      signal: new AbortController().signal,
      killGraceMs: 300,
      ...request,
    });
    return { result, chunks, log: logText(chunks) };
  };
  return { dir: temp.dir, repo, run, remove: temp.remove };
}

const ANSI_COLOR = new RegExp(`${String.fromCharCode(27)}\\[[0-9;]*m`, 'g');

/** The text of every data chunk, in order, without ANSI colors. */
export function logText(chunks: readonly OutputChunk[], stream?: 'stdout' | 'stderr' | 'system'): string {
  return chunks
    .map((chunk) => (chunk.kind === 'data' && (stream === undefined || chunk.stream === stream) ? chunk.data : ''))
    .join('')
    .replace(ANSI_COLOR, '');
}
