import { execFile } from 'node:child_process';
import { stat } from 'node:fs/promises';
import type { SourceArchive } from '../executor/index.js';
import { localRepositoryPath } from '../git/index.js';
import type { Assignment } from '../protocol/index.js';
import { download } from './http.js';

/**
 * How a job's source reaches the workspace (`slipway agent --source`): `git` checks the
 * commit out from the repository (the image needs git, and the repository must be
 * reachable from here); `archive` downloads a tar of the commit's tree from the server
 * (no .git in it); `auto` takes git when it can and the archive otherwise.
 */
export type SourceMode = 'auto' | 'git' | 'archive';

/** What the executor gets: an archive to fetch, null for git, or why neither works. */
export type SourceChoice = { ok: true; archive: SourceArchive | null } | { ok: false; problem: string };

/** Decides for one assignment; the git probe and the path check run each time (a few ms), so nothing is cached across jobs. */
export async function chooseSource(
  mode: SourceMode,
  source: Assignment['source'],
  token: string,
  signal: AbortSignal,
): Promise<SourceChoice> {
  if (mode === 'git') return { ok: true, archive: null };
  const archive = (reason: string): SourceChoice => {
    const url = source.archiveUrl;
    if (url === undefined) {
      return { ok: false, problem: `${reason}, and the server sends no source archive (it is older than this agent); give the image git or upgrade the server` };
    }
    return { ok: true, archive: { from: 'the server', reason, download: (dest) => downloadSource(url, token, dest, signal) } };
  };
  if (mode === 'archive') return archive('--source archive');
  if (!(await gitRuns())) return archive('no git in this image');
  const local = localRepositoryPath(source.repository);
  if (local !== null && !(await exists(local))) return archive(`the repository ${local} is not on this machine`);
  return { ok: true, archive: null };
}

async function downloadSource(url: string, token: string, dest: string, signal: AbortSignal): Promise<void> {
  await download(url, token, dest, signal, { missingOk: false });
}

/** Whether the `git` program on PATH runs. */
function gitRuns(): Promise<boolean> {
  // 10 s: a loaded machine starts git in milliseconds; this only bounds a hung one.
  return new Promise((resolve) => {
    execFile('git', ['--version'], { timeout: 10_000 }, (error) => resolve(error === null));
  });
}

function exists(file: string): Promise<boolean> {
  return stat(file).then(() => true, () => false);
}
