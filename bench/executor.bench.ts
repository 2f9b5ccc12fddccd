// What the execution core adds to a trivial job: runJob of `true` (checkout included)
// beside the raw cost of spawning the same shell, measured in the same run.
import { spawnSync } from 'node:child_process';
import { performance } from 'node:perf_hooks';
import path from 'node:path';
import { directoryCacheStore, runJob } from '../src/executor/index.js';
import { makeRepo, tempDir } from '../test/support/git-repo.js';
import { makeJob } from '../test/support/jobs.js';
import { report, round, summarize } from './lib/report.js';

const { dir, remove } = await tempDir('bench-executor');
try {
  const repo = path.join(dir, 'repo');
  const commit = await makeRepo(repo, { 'README.md': 'bench\n' });
  const raw: number[] = [];
  const core: number[] = [];
  const job = makeJob({ name: 'noop', script: ['true'] });
  for (let i = 0; i < 40; i++) {
    let start = performance.now();
    spawnSync('/bin/sh', ['-c', 'true']);
    raw.push(performance.now() - start);
    start = performance.now();
    const result = await runJob({
      job,
      variables: {},
      source: { repository: repo, commit, subdirectory: '', overlayFrom: null },
      workRoot: path.join(dir, 'work'),
      gitCacheDir: path.join(dir, 'git'),
      baseEnv: process.env,
      artifactsIn: [],
      artifactsOut: path.join(dir, 'artifacts.tar.gz'),
      cacheStore: directoryCacheStore(path.join(dir, 'cache')),
      maskedValues: [],
      onOutput: () => {},
      signal: new AbortController().signal,
    });
    if (result.status !== 'success') throw new Error(`benchmark job failed: ${result.failure?.message}`);
    core.push(performance.now() - start);
  }
  const r = summarize(raw);
  const c = summarize(core);
  await report('executor', 'one trivial job: execution core (checkout + script) vs a raw shell spawn, 40 runs', [
    { what: 'sh -c true', 'p50 ms': r.p50, 'p90 ms': r.p90 },
    { what: 'runJob(true)', 'p50 ms': c.p50, 'p90 ms': c.p90, 'p50 ratio': round(c.p50 / r.p50, 1) },
  ]);
} finally {
  await remove();
}
