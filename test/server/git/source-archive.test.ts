import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { after, before, describe, it } from 'node:test';
import * as tar from 'tar';
import { gitStream } from '../../../src/git/index.js';
import { createGitMirrors } from '../../../src/server/git/index.js';
import { makeRepo, tempDir } from '../../support/git-repo.js';
import { waitFor } from '../../support/wait.js';

/** Whether a `git archive` of commit still runs on this machine. */
async function gitArchiveRunning(commit: string): Promise<boolean> {
  for (const pid of (await readdir('/proc')).filter((name) => /^\d+$/.test(name))) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.includes('archive') && cmdline.includes(commit)) return true;
  }
  return false;
}

describe('the source archive of a commit', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  let repo: string;
  let commit: string;
  before(async () => {
    temp = await tempDir('source-archive');
    repo = path.join(temp.dir, 'repo');
    // 8 MiB of noise: more than any pipe or stream buffer holds, so streaming is exercised.
    commit = await makeRepo(repo, { 'src/main.c': 'int main(void) { return 0; }\n', 'big.bin': randomBytes(8 * 1024 * 1024).toString('base64') });
  });
  after(async () => {
    await temp.remove();
  });

  it('streams a tar of the tree that node-tar reads entry by entry', async () => {
    const mirrors = createGitMirrors({ dir: path.join(temp.dir, 'mirrors') });
    const entries = new Map<string, number>();
    const parser = new tar.Parser({ onReadEntry: (entry) => {
      entries.set(entry.path, entry.size ?? 0);
      entry.resume();
    } });
    await pipeline(await mirrors.archive(repo, commit), parser);
    assert.ok(entries.has('src/main.c'));
    assert.ok((entries.get('big.bin') ?? 0) > 8 * 1024 * 1024);
  });

  it('answers NOT_FOUND for a commit the repository does not have', async () => {
    const mirrors = createGitMirrors({ dir: path.join(temp.dir, 'mirrors') });
    await assert.rejects(mirrors.archive(repo, 'f'.repeat(40)), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'NOT_FOUND');
      assert.match(error.message, /^commit ffffffff is no longer in /);
      return true;
    });
  });

  it('ends the stream with GIT_FAILED when git fails, and lets a reader stop early', async () => {
    const failing = await gitStream(['archive', '--format=tar', 'no-such-ref'], { cwd: repo, isolated: true });
    await assert.rejects(pipeline(failing, new Writable({ write: (_chunk, _encoding, done) => done() })), (error: Error & { code?: string }) => {
      assert.equal(error.code, 'GIT_FAILED');
      assert.match(error.message, /no-such-ref/);
      return true;
    });
    const stopped = await gitStream(['archive', '--format=tar', commit], { cwd: repo, isolated: true });
    const first = await new Promise<Buffer>((resolve) => stopped.once('data', resolve));
    assert.ok(first.length > 0);
    stopped.destroy();
    await new Promise((resolve) => stopped.once('close', resolve));
    await waitFor('git archive to end', async () => !(await gitArchiveRunning(commit)));
  });
});
