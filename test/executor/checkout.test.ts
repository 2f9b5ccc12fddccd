import assert from 'node:assert/strict';
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { writeFiles } from '../support/git-repo.js';
import { makeJob, makeSandbox } from './helpers.js';

describe('checkout', () => {
  it('checks out the requested commit and runs in the project subdirectory', async () => {
    const sandbox = await makeSandbox({ 'README.md': 'root\n', 'app/package.json': '{"v":1}\n' });
    try {
      const first = sandbox.repo.commit;
      await sandbox.repo.commitFiles({ 'app/package.json': '{"v":2}\n' });
      const { result, log } = await sandbox.run(makeJob({ script: ['cat package.json', 'echo "dir=$CI_PROJECT_DIR"'] }), {
        source: { repository: sandbox.repo.dir, commit: first, subdirectory: 'app', overlayFrom: null },
      });
      assert.equal(result.status, 'success', log);
      assert.equal(result.exitCode, 0);
      assert.match(log, /^\{"v":1\}$/m);
      assert.match(log, /^dir=\/.*\/app$/m);
      assert.match(log, new RegExp(`Checking out ${first.slice(0, 8)} in `));
    } finally {
      await sandbox.remove();
    }
  });

  it('fetches into the existing mirror when the commit is new', async () => {
    const sandbox = await makeSandbox();
    try {
      const one = await sandbox.run(makeJob());
      assert.match(one.log, /Creating a mirror of/);
      const second = await sandbox.repo.commitFiles({ 'new.txt': 'new\n' });
      const two = await sandbox.run(makeJob({ script: ['cat new.txt'] }), {
        source: { repository: sandbox.repo.dir, commit: second, subdirectory: '', overlayFrom: null },
      });
      assert.equal(two.result.status, 'success', two.log);
      assert.match(two.log, /Fetching /);
      assert.doesNotMatch(two.log, /Creating a mirror/);
      const three = await sandbox.run(makeJob(), {
        source: { repository: sandbox.repo.dir, commit: second, subdirectory: '', overlayFrom: null },
      });
      assert.doesNotMatch(three.log, /Fetching|Creating a mirror/);
    } finally {
      await sandbox.remove();
    }
  });

  it('lets two jobs create the mirror of the same repository at the same time', async () => {
    const sandbox = await makeSandbox({ 'a.txt': 'a\n' });
    try {
      const runs = await Promise.all([1, 2, 3].map(() => sandbox.run(makeJob({ script: ['cat a.txt'] }))));
      for (const run of runs) assert.equal(run.result.status, 'success', run.log);
      const mirrors = await readdir(path.join(sandbox.dir, 'git'));
      assert.equal(mirrors.length, 1, `one mirror, no leftovers: ${mirrors.join(', ')}`);
    } finally {
      await sandbox.remove();
    }
  });

  it('lays the uncommitted changes of a working tree over the checkout', async () => {
    const sandbox = await makeSandbox({
      '.gitignore': '*.log\n',
      'kept.txt': 'kept\n',
      'modified.txt': 'old\n',
      'deleted.txt': 'deleted\n',
      'dir/staged.txt': 'old\n',
    });
    try {
      const { dir } = sandbox.repo;
      await writeFiles(dir, {
        'modified.txt': 'new\n',
        'untracked/new.txt': 'untracked\n',
        'debug.log': 'ignored\n',
        'dir/staged.txt': 'staged\n',
      });
      await rm(path.join(dir, 'deleted.txt'));
      const { result, log } = await sandbox.run(
        makeJob({
          script: [
            'cat modified.txt untracked/new.txt dir/staged.txt kept.txt',
            'test ! -e deleted.txt',
            'test ! -e debug.log',
          ],
        }),
        { source: { repository: dir, commit: sandbox.repo.commit, subdirectory: '', overlayFrom: dir } },
      );
      assert.equal(result.status, 'success', log);
      assert.match(log, /^new\nuntracked\nstaged\nkept\n/m);
      assert.match(log, /Applied the uncommitted changes of .*: 3 files copied, 1 deleted/);
    } finally {
      await sandbox.remove();
    }
  });

  it('fails with a system failure when the commit does not exist', async () => {
    const sandbox = await makeSandbox();
    try {
      const missing = 'deadbeef'.repeat(5);
      const { result, log, chunks } = await sandbox.run(makeJob({ script: ['echo should-not-run'] }), {
        source: { repository: sandbox.repo.dir, commit: missing, subdirectory: '', overlayFrom: null },
      });
      assert.equal(result.status, 'failed');
      assert.equal(result.failure?.kind, 'system_failure');
      assert.match(result.failure.message, /commit deadbeef \(deadbeef.*\) does not exist in /);
      assert.equal(result.exitCode, null);
      assert.doesNotMatch(log, /should-not-run/);
      assert.ok(!chunks.some((chunk) => chunk.kind === 'section_start' && chunk.section === 'script'));
    } finally {
      await sandbox.remove();
    }
  });

  it('fails with a system failure when the repository cannot be read or the subdirectory is missing', async () => {
    const sandbox = await makeSandbox();
    try {
      const noRepo = await sandbox.run(makeJob(), {
        source: { repository: path.join(sandbox.dir, 'nope'), commit: sandbox.repo.commit, subdirectory: '', overlayFrom: null },
      });
      assert.equal(noRepo.result.failure?.kind, 'system_failure');
      assert.match(noRepo.result.failure.message, /git clone --mirror/);
      const noDir = await sandbox.run(makeJob(), {
        source: { repository: sandbox.repo.dir, commit: sandbox.repo.commit, subdirectory: 'missing/app', overlayFrom: null },
      });
      assert.equal(noDir.result.failure?.kind, 'system_failure');
      assert.match(noDir.result.failure.message, /the project directory 'missing\/app' does not exist in commit/);
      const notSha = await sandbox.run(makeJob(), {
        source: { repository: sandbox.repo.dir, commit: 'main', subdirectory: '', overlayFrom: null },
      });
      assert.match(notSha.result.failure?.message ?? '', /'main' is not a full commit SHA/);
    } finally {
      await sandbox.remove();
    }
  });

  it('does not show the user and password of a repository URL when git fails', async () => {
    const sandbox = await makeSandbox();
    try {
      // git knows no such protocol: the clone fails at once, without the network.
      const repository = 'nosuch://slipway:s3cret-password@git.invalid/org/repo.git';
      const { result, log } = await sandbox.run(makeJob(), {
        source: { repository, commit: sandbox.repo.commit, subdirectory: '', overlayFrom: null },
      });
      assert.equal(result.failure?.kind, 'system_failure');
      assert.match(result.failure.message, /git clone --mirror --quiet -- nosuch:\/\/git\.invalid\/org\/repo\.git /);
      assert.doesNotMatch(`${result.failure.message}\n${log}`, /s3cret-password/);
    } finally {
      await sandbox.remove();
    }
  });

  it('removes the workspace when the job ends, unless asked to keep it', async () => {
    const sandbox = await makeSandbox();
    try {
      await sandbox.run(makeJob());
      assert.deepEqual(await readdir(path.join(sandbox.dir, 'work')), []);
      const kept = await sandbox.run(makeJob(), { keepWorkspace: true });
      assert.match(kept.log, /Kept the workspace in /);
      assert.equal((await readdir(path.join(sandbox.dir, 'work'))).length, 1);
      const readOnly = await sandbox.run(makeJob({ script: ['mkdir -p ro/deep && touch ro/deep/f && chmod 555 ro/deep ro'] }));
      assert.equal(readOnly.result.status, 'success', readOnly.log);
      assert.equal((await readdir(path.join(sandbox.dir, 'work'))).length, 1, 'the read-only tree is removed too');
    } finally {
      await sandbox.remove();
    }
  });
});
