import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { promisify } from 'node:util';
import { isSlipwayError } from '../../src/errors/index.js';
import { createMirrorCache, gitText } from '../../src/git/index.js';
import { commitFiles, makeRepo, runGit, tempDir } from '../support/git-repo.js';

describe('the mirror cache', () => {
  it('clones a mirror once, then fetches only when a commit is new', async () => {
    const temp = await tempDir('git-mirrors');
    try {
      const repo = path.join(temp.dir, 'repo');
      const first = await makeRepo(repo, { 'a.txt': 'a\n' });
      const cache = createMirrorCache({ baseEnv: process.env, dir: path.join(temp.dir, 'git') });
      const said: string[] = [];
      const say = (line: string): void => {
        said.push(line);
      };
      const mirror = await cache.withCommit(repo, first, { say });
      assert.deepEqual(said, [`Creating a mirror of ${repo}`]);
      assert.equal(await cache.withCommit(repo, first, { say }), mirror);
      assert.equal(await cache.open(repo), mirror);
      assert.equal(said.length, 1, 'no clone or fetch for a commit the mirror has');
      const second = await commitFiles(repo, { 'b.txt': 'b\n' }, 'second');
      assert.equal(await cache.withCommit(repo, second, { say }), mirror);
      assert.deepEqual(said.slice(1), [`Fetching ${repo}`]);
      assert.deepEqual(await readdir(path.join(temp.dir, 'git')), [path.basename(mirror)]);
    } finally {
      await temp.remove();
    }
  });

  it('brings moved and deleted branches up to date on refresh', async () => {
    const temp = await tempDir('git-mirrors');
    try {
      const repo = path.join(temp.dir, 'repo');
      await makeRepo(repo, { 'a.txt': 'a\n' });
      runGit(repo, ['branch', 'gone']);
      const cache = createMirrorCache({ baseEnv: process.env, dir: path.join(temp.dir, 'git') });
      const mirror = await cache.refresh(repo);
      const moved = await commitFiles(repo, { 'a.txt': 'moved\n' }, 'move main');
      runGit(repo, ['branch', '-D', 'gone']);
      assert.equal(await cache.refresh(repo), mirror);
      assert.equal((await gitText(['rev-parse', 'refs/heads/main'], { baseEnv: process.env, cwd: mirror })).trim(), moved);
      assert.equal((await gitText(['branch', '--list', 'gone'], { baseEnv: process.env, cwd: mirror })).trim(), '');
    } finally {
      await temp.remove();
    }
  });

  it('lets callers in this process and in others create the same mirror at once', async () => {
    const temp = await tempDir('git-mirrors');
    try {
      const repo = path.join(temp.dir, 'repo');
      const commit = await makeRepo(repo, { 'a.txt': 'a\n' });
      const dir = path.join(temp.dir, 'git');
      const index = new URL('../../src/git/index.js', import.meta.url).href;
      // Other processes have their own turns: only the temporary directory and the rename keep them apart.
      const script = `const { createMirrorCache } = await import(process.argv[1]);
        process.stdout.write(await createMirrorCache({ baseEnv: process.env, dir: process.argv[2] }).withCommit(process.argv[3], process.argv[4]));`;
      const others = [1, 2].map(() =>
        promisify(execFile)(process.execPath, ['--input-type=module', '-e', script, index, dir, repo, commit]).then((out) => out.stdout),
      );
      const ours = [1, 2, 3].map(() => createMirrorCache({ dir, baseEnv: process.env }).withCommit(repo, commit));
      const mirrors = await Promise.all([...others, ...ours]);
      assert.equal(new Set(mirrors).size, 1, `one mirror for all: ${mirrors.join(', ')}`);
      assert.deepEqual(await readdir(dir), [path.basename(mirrors[0] ?? '')], 'no leftovers');
    } finally {
      await temp.remove();
    }
  });

  it('says a missing commit does not exist, and never shows the password of a URL', async () => {
    const temp = await tempDir('git-mirrors');
    try {
      const repo = path.join(temp.dir, 'repo');
      await makeRepo(repo, { 'a.txt': 'a\n' });
      const cache = createMirrorCache({ baseEnv: process.env, dir: path.join(temp.dir, 'git') });
      const missing = 'deadbeef'.repeat(5);
      await assert.rejects(cache.withCommit(repo, missing), new RegExp(`^SlipwayError: commit deadbeef \\(${missing}\\) does not exist in ${repo}$`));
      await assert.rejects(cache.open('nosuch://slipway:s3cret-password@git.invalid/org/repo.git'), (error) => {
        assert.ok(isSlipwayError(error, 'GIT_FAILED'));
        assert.match(error.message, /^git clone --mirror --quiet -- nosuch:\/\/git\.invalid\/org\/repo\.git /);
        assert.doesNotMatch(error.message, /s3cret-password/);
        return true;
      });
      assert.equal((await readdir(path.join(temp.dir, 'git'))).length, 1, 'a failed clone leaves nothing behind');
    } finally {
      await temp.remove();
    }
  });
});
