import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { isSlipwayError } from '../../src/errors/index.js';
import { git, gitText, gitTextOrNull } from '../../src/git/index.js';
import { makeRepo, runGit, tempDir } from '../support/git-repo.js';
import { processAlive, waitFor } from '../support/wait.js';

describe('running git', () => {
  it('returns what git prints, and null when git answers a question with no', async () => {
    const temp = await tempDir('git-run');
    try {
      const commit = await makeRepo(temp.dir, { 'a.txt': 'a\n' });
      assert.equal((await gitText(['rev-parse', 'HEAD'], { baseEnv: process.env, cwd: temp.dir })).trim(), commit);
      assert.deepEqual(await git(['show', `${commit}:a.txt`], { baseEnv: process.env, cwd: temp.dir, isolated: true }), Buffer.from('a\n'));
      assert.equal(await gitTextOrNull(['rev-parse', '--verify', '--quiet', 'refs/heads/nosuch'], { baseEnv: process.env, cwd: temp.dir }), null);
    } finally {
      await temp.remove();
    }
  });

  it("runs git in the base environment it is given, not in this process's environment", async () => {
    const temp = await tempDir('git-run');
    const config = (value: string) => ({ GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: 'slipway.origin', GIT_CONFIG_VALUE_0: value });
    const saved = { ...process.env };
    Object.assign(process.env, config('from-the-process'));
    try {
      await makeRepo(temp.dir, { 'a.txt': 'a\n' });
      const ask = (baseEnv: Record<string, string | undefined>) => gitTextOrNull(['config', '--get', 'slipway.origin'], { baseEnv, cwd: temp.dir });
      assert.equal((await ask({ PATH: saved['PATH'], ...config('from-the-base') }))?.trim(), 'from-the-base');
      assert.equal(await ask({ PATH: saved['PATH'] }), null, "nothing of this process's environment reaches git");
    } finally {
      for (const name of Object.keys(config(''))) {
        if (saved[name] === undefined) delete process.env[name];
        else process.env[name] = saved[name];
      }
      await temp.remove();
    }
  });

  it('fails with GIT_FAILED naming the command and where it ran, with the tail of what git said', async () => {
    const temp = await tempDir('git-run');
    try {
      await makeRepo(temp.dir, { 'a.txt': 'a\n' });
      await assert.rejects(gitText(['log', 'nosuch-ref'], { baseEnv: process.env, cwd: temp.dir }), (error) => {
        assert.ok(isSlipwayError(error, 'GIT_FAILED'));
        assert.match(error.message, new RegExp(`^git log nosuch-ref failed in ${temp.dir}: .*nosuch-ref`, 's'));
        return true;
      });
    } finally {
      await temp.remove();
    }
  });

  it('does not show the user and password of a repository URL when git fails', async () => {
    const temp = await tempDir('git-run');
    try {
      await makeRepo(temp.dir, { 'a.txt': 'a\n' });
      // git knows no such protocol: these fail at once, without the network.
      const repository = 'nosuch://slipway:s3cret-password@git.invalid/org/repo.git';
      await assert.rejects(gitText(['ls-remote', repository], { baseEnv: process.env, cwd: temp.dir }), (error) => {
        assert.ok(isSlipwayError(error, 'GIT_FAILED'));
        assert.match(error.message, /^git ls-remote nosuch:\/\/git\.invalid\/org\/repo\.git failed/);
        assert.doesNotMatch(error.message, /s3cret-password/);
        return true;
      });
      runGit(temp.dir, ['remote', 'add', 'origin', repository]);
      await assert.rejects(gitText(['fetch', 'origin'], { baseEnv: process.env, cwd: temp.dir, repository }), (error) => {
        assert.ok(isSlipwayError(error, 'GIT_FAILED'));
        assert.match(error.message, /^git fetch origin failed for nosuch:\/\/git\.invalid\/org\/repo\.git: /);
        assert.doesNotMatch(error.message, /s3cret-password/);
        return true;
      });
    } finally {
      await temp.remove();
    }
  });

  it('ends git and what it started when the signal is aborted', async () => {
    const temp = await tempDir('git-run');
    try {
      const pidFile = path.join(temp.dir, 'pid');
      const controller = new AbortController();
      // A shell alias: git starts sh, which becomes a sleep that only the group signal ends.
      const running = gitText(['-c', `alias.hang=!echo $$ > ${pidFile}; exec sleep 60`, 'hang'], {
        baseEnv: process.env,
        cwd: temp.dir,
        signal: controller.signal,
        killGraceMs: 200,
      });
      const pid = Number(await waitFor('the alias to start', async () => (await readFile(pidFile, 'utf8').catch(() => '')).trim() || undefined));
      controller.abort();
      await assert.rejects(running, (error) => {
        assert.ok(isSlipwayError(error, 'GIT_FAILED'));
        assert.match(error.message, /hang was canceled$/);
        return true;
      });
      assert.equal(processAlive(pid), false, 'the sleep git started is gone');
      await assert.rejects(gitText(['status'], { baseEnv: process.env, cwd: temp.dir, signal: controller.signal }), /git status was canceled/);
    } finally {
      await temp.remove();
    }
  });

  it('leaves out GIT_DIR and the like only when asked to isolate git from its environment', async () => {
    const temp = await tempDir('git-run');
    const saved = process.env.GIT_DIR;
    try {
      const one = path.join(temp.dir, 'one');
      const two = path.join(temp.dir, 'two');
      const first = await makeRepo(one, { 'a.txt': 'one\n' });
      const second = await makeRepo(two, { 'a.txt': 'two\n' });
      process.env.GIT_DIR = path.join(two, '.git');
      assert.equal((await gitText(['rev-parse', 'HEAD'], { baseEnv: process.env, cwd: one })).trim(), second);
      assert.equal((await gitText(['rev-parse', 'HEAD'], { baseEnv: process.env, cwd: one, isolated: true })).trim(), first);
    } finally {
      if (saved === undefined) delete process.env.GIT_DIR;
      else process.env.GIT_DIR = saved;
      await temp.remove();
    }
  });
});
