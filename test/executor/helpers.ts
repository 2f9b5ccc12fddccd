import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { JobSpec } from '../../src/pipeline/index.js';
import {
  directoryCacheStore,
  runJob,
  type JobResult,
  type OutputChunk,
  type RunJobRequest,
} from '../../src/executor/index.js';

/** A job with every field at its plain default: `script: ['true']`, one hour to run. */
export function makeJob(overrides: Partial<JobSpec> = {}): JobSpec {
  return {
    name: 'test',
    definitionName: 'test',
    stage: 'test',
    needs: null,
    artifactsFrom: [],
    beforeScript: [],
    script: ['true'],
    afterScript: [],
    variables: {},
    image: null,
    labels: [],
    services: [],
    resources: { cpus: null, memoryMiB: null },
    timeoutMs: 3_600_000,
    retry: { max: 0, when: [] },
    allowFailure: false,
    when: 'on_success',
    startInMs: null,
    artifacts: null,
    cache: [],
    environment: null,
    deploy: null,
    matrix: null,
    parallel: null,
    position: { file: '.slipway.yml', line: 1, column: 1 },
    ...overrides,
  };
}

const GIT_IDENTITY = {
  GIT_AUTHOR_NAME: 'Slipway Test',
  GIT_AUTHOR_EMAIL: 'test@slipway.invalid',
  GIT_COMMITTER_NAME: 'Slipway Test',
  GIT_COMMITTER_EMAIL: 'test@slipway.invalid',
};

/** Runs git in dir with a fixed identity; returns its stdout. */
export function git(dir: string, ...args: string[]): string {
  return execFileSync('git', args, { cwd: dir, env: { ...process.env, ...GIT_IDENTITY }, encoding: 'utf8' });
}

/** Writes files (content, or null to delete) relative to dir, creating folders. */
export async function writeFiles(dir: string, files: Record<string, string | null>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    const file = path.join(dir, name);
    if (content === null) {
      await rm(file, { force: true });
      continue;
    }
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, content);
  }
}

export type TestRepo = {
  /** The working tree (a normal, non-bare repository). */
  dir: string;
  /** The SHA of the last commit made. */
  commit: string;
  /** Writes (or with null, deletes) files and commits them; returns the new SHA. */
  commitFiles(files: Record<string, string | null>, message?: string): Promise<string>;
};

/** A real git repository in a new directory under parent, with one commit holding files. */
export async function makeRepo(files: Record<string, string>, parent?: string): Promise<TestRepo> {
  const dir = parent === undefined ? await mkdtemp(path.join(os.tmpdir(), 'slipway-repo-')) : path.join(parent, 'repo');
  await mkdir(dir, { recursive: true });
  git(dir, 'init', '-q', '-b', 'main');
  const repo: TestRepo = {
    dir,
    commit: '',
    async commitFiles(changes, message = 'change') {
      await writeFiles(dir, changes);
      git(dir, 'add', '-A');
      git(dir, 'commit', '-q', '--allow-empty', '-m', message);
      repo.commit = git(dir, 'rev-parse', 'HEAD').trim();
      return repo.commit;
    },
  };
  await repo.commitFiles(files, 'first commit');
  return repo;
}

/** A temporary directory for one test; `remove` deletes it. */
export async function makeTempDir(prefix = 'executor'): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(path.join(os.tmpdir(), `slipway-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

export type JobRun = { result: JobResult; chunks: OutputChunk[]; log: string };

/**
 * A sandbox for running jobs: one temp dir with the repository, work root, git cache,
 * cache store and artifact archives. `run` fills every request field with a default.
 */
export async function makeSandbox(files: Record<string, string> = { 'README.md': 'hello\n' }) {
  const temp = await makeTempDir();
  const repo = await makeRepo(files, temp.dir);
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

/** Whether pid is gone: no such process, or a zombie waiting for an init to reap it. */
export async function isDead(pid: number): Promise<boolean> {
  try {
    process.kill(pid, 0);
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'ESRCH';
  }
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => null);
  if (stat === null) return true;
  return stat.slice(stat.lastIndexOf(')') + 2).startsWith('Z');
}
