import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { chmod, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { CatFileBatch } from '../../src/git/index.js';
import { createGitMirrors } from '../../src/server/git/index.js';
import { commitFiles, makeRepo, runGit, tempDir } from '../support/git-repo.js';

describe('a long-lived git object reader', () => {
  let temp: { dir: string; remove: () => Promise<void> };
  let reader: CatFileBatch | null = null;
  beforeEach(async () => {
    temp = await tempDir('cat-file');
  });
  afterEach(async () => {
    reader?.close();
    reader = null;
    await temp.remove();
  });

  it('answers questions asked at once, in order, and sees refs that moved since it started', async () => {
    const repo = path.join(temp.dir, 'repo');
    const first = await makeRepo(repo, { '.slipway.yml': 'a: 1\n', 'dir/file': 'x' });
    reader = new CatFileBatch([`--git-dir=${path.join(repo, '.git')}`], { cwd: tmpdir(), isolated: true, baseEnv: process.env }, 60_000);
    const [ref, blob, tree, missing, content] = await Promise.all([
      reader.info('refs/heads/main^{commit}'),
      reader.info(`${first}:.slipway.yml`),
      reader.info(`${first}:dir`),
      reader.info('refs/heads/nothing^{commit}'),
      reader.contents(`${first}:.slipway.yml`),
    ]);
    assert.equal(ref?.sha, first);
    assert.equal(blob?.type, 'blob');
    assert.equal(tree?.type, 'tree');
    assert.equal(missing, null);
    assert.equal(content?.content.toString(), 'a: 1\n');

    const second = await commitFiles(repo, { '.slipway.yml': 'a: 2\n' }, 'second');
    assert.equal((await reader.info('refs/heads/main^{commit}'))?.sha, second);
    runGit(repo, ['pack-refs', '--all']);
    const third = await commitFiles(repo, { '.slipway.yml': 'a: 3\n' }, 'third');
    runGit(repo, ['gc', '-q']);
    assert.equal((await reader.info('refs/heads/main^{commit}'))?.sha, third);
    assert.equal((await reader.contents('refs/heads/main:.slipway.yml'))?.content.toString(), 'a: 3\n');
  });

  it('fails the questions in flight when closed, and starts again on the next one', async () => {
    const repo = path.join(temp.dir, 'repo');
    const sha = await makeRepo(repo, { f: 'x' });
    reader = new CatFileBatch([`--git-dir=${path.join(repo, '.git')}`], { cwd: tmpdir(), isolated: true, baseEnv: process.env }, 60_000);
    const asked = reader.contents(sha);
    reader.close();
    await assert.rejects(asked, { code: 'GIT_FAILED' });
    assert.equal((await reader.info(sha))?.type, 'commit');
  });

  it('says nothing of a name with a line break rather than asking git', async () => {
    const repo = path.join(temp.dir, 'repo');
    await makeRepo(repo, { f: 'x' });
    reader = new CatFileBatch([`--git-dir=${path.join(repo, '.git')}`], { cwd: tmpdir(), isolated: true, baseEnv: process.env }, 60_000);
    assert.equal(await reader.info('HEAD\ninfo HEAD'), null);
  });
});

describe('the server reading commits through the object reader', () => {
  it('describes a commit as git log does: parent, author, date with its offset, message', async () => {
    const temp = await tempDir('commit-info');
    try {
      const repo = path.join(temp.dir, 'repo');
      await makeRepo(repo, { f: '1' });
      const env = { ...process.env, GIT_AUTHOR_NAME: 'Zoë Q. <Public>', GIT_AUTHOR_EMAIL: 'zoe@example.invalid', GIT_AUTHOR_DATE: '2024-02-29T23:59:58+05:30', GIT_COMMITTER_NAME: 'c', GIT_COMMITTER_EMAIL: 'c@c.invalid' };
      execFileSync('git', ['commit', '-q', '--allow-empty', '-m', 'Subject line\n\n  body with indent\n\n'], { cwd: repo, env });
      runGit(repo, ['checkout', '-q', '-b', 'side', 'HEAD~1']);
      await commitFiles(repo, { g: '2' }, 'side work');
      runGit(repo, ['checkout', '-q', 'main']);
      runGit(repo, ['merge', '-q', '--no-ff', '-m', 'Merge side', 'side']);
      const git = createGitMirrors({ dir: path.join(temp.dir, 'mirrors'), baseEnv: process.env });
      for (const spec of ['HEAD', 'HEAD~1', 'HEAD~2', 'side']) {
        const sha = runGit(repo, ['rev-parse', spec]).trim();
        const [parents = '', authorName, authorEmail, timestamp, ...message] = runGit(repo, ['log', '-1', '--format=%P%x00%an%x00%ae%x00%aI%x00%B', sha, '--']).split('\u0000');
        const expected = { parentSha: parents.trim().split(' ')[0] || null, authorName, authorEmail, timestamp, message: message.join('\u0000').trim() };
        assert.deepEqual(await git.commitInfo(repo, sha), expected, spec);
      }
      assert.equal(await git.readFileAt(repo, runGit(repo, ['rev-parse', 'HEAD']).trim(), 'g'), '2');
      assert.equal(await git.readFileAt(repo, runGit(repo, ['rev-parse', 'HEAD']).trim(), 'nothing'), null);
    } finally {
      await temp.remove();
    }
  });
});

describe('the server listing and comparing commit paths from tree objects', () => {
  it('says what git ls-tree -r and git diff --name-only --no-renames say, for files, folders, modes, links and type changes', async () => {
    const temp = await tempDir('trees');
    try {
      const repo = path.join(temp.dir, 'repo');
      const commits = [await makeRepo(repo, { 'a.txt': '1', 'dir/b': '2', 'dir/sub/c': '3', 'foo.c': 'x', 'foo/bar': 'y', 'zz/keep': 'k' })];
      commits.push(await commitFiles(repo, { 'dir/b': 'changed', 'new/deep/file': 'n', 'é ü/name with spaces': 's' }, 'second'));
      runGit(repo, ['rm', '-q', '-r', 'dir/sub']);
      runGit(repo, ['mv', 'a.txt', 'renamed.txt']);
      runGit(repo, ['update-index', '--chmod=+x', 'foo.c']);
      commits.push(await commitFiles(repo, {}, 'third'));
      // foo becomes a file, zz/keep a folder, and a symlink appears.
      runGit(repo, ['rm', '-q', '-r', 'foo', 'zz/keep']);
      execFileSync('ln', ['-s', 'renamed.txt', path.join(repo, 'link')]);
      commits.push(await commitFiles(repo, { foo: 'now a file', 'zz/keep/inner': 'i' }, 'fourth'));
      const git = createGitMirrors({ dir: path.join(temp.dir, 'mirrors'), baseEnv: process.env });
      const lines = (text: string) => text.split('\u0000').filter((p) => p !== '');
      for (const [index, sha] of commits.entries()) {
        assert.deepEqual(await git.listPaths(repo, sha), lines(runGit(repo, ['ls-tree', '-r', '--name-only', '-z', sha])), `ls-tree of commit ${index}`);
        for (const before of commits) {
          const expected = lines(runGit(repo, ['diff', '--name-only', '-z', '--no-renames', before, sha, '--']));
          assert.deepEqual(await git.changedPaths(repo, before, sha), expected, `diff of ${before.slice(0, 7)}..${sha.slice(0, 7)}`);
        }
      }
      assert.equal(await git.changedPaths(repo, 'f'.repeat(40), commits[0] ?? ''), null);
    } finally {
      await temp.remove();
    }
  });
});

describe('the server on a git without cat-file --batch-command', () => {
  it('answers every question through git processes of their own, as before', async () => {
    const temp = await tempDir('old-git');
    const savedPath = process.env.PATH;
    try {
      const repo = path.join(temp.dir, 'repo');
      const first = await makeRepo(repo, { '.slipway.yml': 'a: 1\n', 'dir/f': 'x' });
      const second = await commitFiles(repo, { 'dir/g': 'y' }, 'second');
      // A git that refuses --batch-command as git 2.35 does (usage, exit 129).
      const bin = path.join(temp.dir, 'bin');
      const real = execFileSync('sh', ['-c', 'command -v git'], { encoding: 'utf8' }).trim();
      execFileSync('mkdir', ['-p', bin]);
      await writeFile(path.join(bin, 'git'), `#!/bin/sh\nfor a in "$@"; do [ "$a" = --batch-command ] && { echo "usage: unknown option" >&2; exit 129; }; done\nexec ${real} "$@"\n`);
      await chmod(path.join(bin, 'git'), 0o755);
      process.env.PATH = `${bin}:${savedPath ?? ''}`;
      const git = createGitMirrors({ dir: path.join(temp.dir, 'mirrors'), baseEnv: process.env });
      assert.equal((await git.resolveRef(repo, 'main')).sha, second);
      assert.equal(await git.readFileAt(repo, second, '.slipway.yml'), 'a: 1\n');
      assert.equal((await git.commitInfo(repo, second)).parentSha, first);
      assert.deepEqual(await git.changedPaths(repo, first, second), ['dir/g']);
      assert.deepEqual(await git.listPaths(repo, second), ['.slipway.yml', 'dir/f', 'dir/g']);
    } finally {
      process.env.PATH = savedPath;
      await temp.remove();
    }
  });
});
