import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import * as tar from 'tar';
import { commitFiles, runGit } from '../../support/git-repo.js';
import { waitFor } from '../../support/wait.js';
import { pipeline, startTestServer, type TestServer } from './harness.js';

const slipwayBin = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../../bin/slipway.js');
const finished = (status: string) => ['success', 'failed', 'canceled', 'error'].includes(status);

/** A real `slipway agent` process that runs one job and exits. */
function startAgentProcess(t: TestServer, workDir: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [slipwayBin, 'agent', '--server', t.url, '--work-dir', workDir, '--max-jobs', '1', ...args], {
    env: { ...env, SLIPWAY_AGENT_TOKEN: t.agentToken },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (code) => resolve(code));
  });
  return { child, exited, stderr: () => stderr };
}

/**
 * Runs one build of project on a real agent process (startAgentProcess's arguments) and
 * returns it with its job's log once the build succeeded and the agent exited 0.
 */
async function buildOnAgent(t: TestServer, project: string, workDir: string, args: string[], env?: NodeJS.ProcessEnv): Promise<{ buildId: number; log: string }> {
  const agent = startAgentProcess(t, workDir, args, env);
  try {
    const started = await t.trigger(project);
    const build = await t.waitForBuild(started.id, (b) => finished(b.status), 'the build to finish', 60_000);
    assert.equal(build.status, 'success', `${JSON.stringify(build)}\n${agent.stderr()}`);
    const log = await t.waitForLog(build.jobs[0]?.id ?? 0, (text) => text.includes('Job succeeded'));
    assert.equal(await agent.exited, 0, agent.stderr());
    return { buildId: started.id, log };
  } finally {
    agent.child.kill('SIGKILL');
  }
}

describe('job sources from the server', () => {
  let t: TestServer;
  let dir: string;
  before(async () => {
    t = await startTestServer();
    dir = await mkdtemp(path.join(os.tmpdir(), 'slipway-source-'));
  });
  after(async () => {
    await t.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the tar of the attempt\'s commit to its token only', async () => {
    const project = await t.project({
      '.slipway.yml': pipeline({ served: 'labels: [served]\nscript:\n  - "true"' }),
      'data/numbers.txt': '1 2 3\n',
    });
    await t.trigger(project);
    const agent = await t.handAgent('by-hand-served', ['served']);
    try {
      const assignment = await agent.assignment();
      const url = assignment.source.archiveUrl;
      assert.equal(url, `${t.url}/api/v1/attempts/${assignment.attemptId}/source`);
      const response = await fetch(url, { headers: { authorization: `Bearer ${assignment.token}` } });
      assert.equal(response.status, 200);
      assert.equal(response.headers.get('content-type'), 'application/x-tar');
      const file = path.join(dir, 'served.tar');
      await writeFile(file, Buffer.from(await response.arrayBuffer()));
      const paths: string[] = [];
      await tar.t({ file, onReadEntry: (entry) => paths.push(entry.path) });
      assert.ok(paths.includes('data/numbers.txt'), paths.join(', '));
      assert.ok(paths.includes('.slipway.yml'));
      assert.ok(!paths.some((p) => p.startsWith('.git/')));

      const wrong = await fetch(url, { headers: { authorization: 'Bearer not-the-token' } });
      assert.equal(wrong.status, 401);
      assert.equal(((await wrong.json()) as { code: string }).code, 'UNAUTHORIZED');
      const none = await fetch(url);
      assert.equal(none.status, 401);

      // Once the attempt has finished, its token is revoked: the source is closed to it too.
      const { attemptId, token } = assignment;
      const result = { status: 'success' as const, failure: null, exitCode: 0, durationMs: 1, artifacts: null };
      agent.events(attemptId, token, [{ seq: 1, kind: 'started', atMs: 0 }, { seq: 2, kind: 'finished', atMs: 1, result }]);
      await waitFor('ack 2', () => agent.received.some((m) => m.type === 'ack' && m.attemptId === attemptId && m.seq === 2));
      const revoked = await fetch(url, { headers: { authorization: `Bearer ${token}` } });
      assert.equal(revoked.status, 401);
    } finally {
      await agent.close();
    }
  });

  it('answers NOT_FOUND with a clear message when the commit is gone from the repository', async () => {
    const project = await t.project({ '.slipway.yml': pipeline({ gone: 'labels: [gone]\nscript:\n  - "true"' }) });
    const repo = (await t.api<{ repositoryUrl: string }>('GET', `/api/v1/projects/${project}`)).repositoryUrl;
    const doomed = await commitFiles(repo, { 'later.txt': 'soon gone\n' }, 'a commit that will be force-pushed away');
    await t.trigger(project);
    const agent = await t.handAgent('by-hand-gone', ['gone']);
    try {
      const assignment = await agent.assignment();
      assert.equal(assignment.source.commit, doomed);
      runGit(repo, ['reset', '--hard', '-q', 'HEAD~1']);
      runGit(repo, ['reflog', 'expire', '--expire=now', '--all']);
      runGit(repo, ['gc', '-q', '--prune=now']);
      const response = await fetch(assignment.source.archiveUrl ?? '', { headers: { authorization: `Bearer ${assignment.token}` } });
      assert.equal(response.status, 404);
      const body = (await response.json()) as { code: string; message: string };
      assert.equal(body.code, 'NOT_FOUND');
      assert.match(body.message, new RegExp(`^commit ${doomed.slice(0, 8)} is no longer in .*force push`));
    } finally {
      await agent.close();
    }
  });

  it('runs a job on a real agent process with --source archive: the files of the commit, no .git', async () => {
    const project = await t.project({
      '.slipway.yml': pipeline({ archived: 'labels: [archived]\nscript:\n  - cat data.txt\n  - test ! -e .git && echo "no .git"\n  - echo "sha $CI_COMMIT_SHA"' }),
      'data.txt': 'the commit says hello\n',
    });
    const { buildId, log } = await buildOnAgent(t, project, path.join(dir, 'archive-agent'), ['--labels', 'archived', '--source', 'archive']);
    const sha = (await t.api<{ commitSha: string }>('GET', `/api/v1/builds/${buildId}`)).commitSha;
    assert.match(log, /^the commit says hello$/m);
    assert.match(log, /^no \.git$/m);
    assert.match(log, new RegExp(`^sha ${sha}$`, 'm'));
    assert.match(log, new RegExp(`Fetched ${sha.slice(0, 8)} from the server \\(--source archive\\)`));
  });

  it('takes the archive under --source auto when git is not on PATH', async () => {
    const project = await t.project({
      '.slipway.yml': pipeline({ gitless: 'labels: [gitless]\nscript:\n  - cat data.txt\n  - "if command -v git; then echo git found; fi"' }),
      'data.txt': 'no git needed\n',
    });
    // A PATH with what the script uses and no git.
    const bin = path.join(dir, 'bin-without-git');
    await mkdir(bin, { recursive: true });
    for (const tool of ['cat', 'ls']) await symlink(path.join('/usr/bin', tool), path.join(bin, tool));
    const { log } = await buildOnAgent(t, project, path.join(dir, 'gitless-agent'), ['--labels', 'gitless'], { ...process.env, PATH: bin });
    assert.match(log, /^no git needed$/m);
    assert.doesNotMatch(log, /^git found$/m);
    assert.match(log, /Fetched [0-9a-f]{8} from the server \(no git in this image\)/);
  });

  it('checks out with git under --source auto when git runs and the repository is here', async () => {
    const project = await t.project({
      '.slipway.yml': pipeline({ withgit: 'labels: [withgit]\nscript:\n  - git rev-parse HEAD' }),
    });
    const { log } = await buildOnAgent(t, project, path.join(dir, 'git-agent'), ['--labels', 'withgit']);
    assert.match(log, /Checked out [0-9a-f]{8} with git/);
    assert.doesNotMatch(log, /from the server/);
  });
});
