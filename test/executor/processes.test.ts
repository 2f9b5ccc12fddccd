import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { processAlive } from '../support/wait.js';
import { makeJob, makeSandbox } from './helpers.js';

type Sandbox = Awaited<ReturnType<typeof makeSandbox>>;

describe('process groups', () => {
  let sandbox: Sandbox;
  before(async () => {
    sandbox = await makeSandbox();
  });
  after(async () => {
    await sandbox.remove();
  });

  /** A fresh directory for the pid files of one test, so no test reads another's. */
  async function pidDir(): Promise<string> {
    return mkdtemp(path.join(sandbox.dir, 'pids-'));
  }

  /** Reads the pids the script wrote to "$PIDS/<name>.pid". */
  async function pids(dir: string, ...names: string[]): Promise<number[]> {
    return Promise.all(names.map(async (name) => Number(await readFile(path.join(dir, `${name}.pid`), 'utf8'))));
  }

  async function assertAllDead(list: number[]): Promise<void> {
    for (const pid of list) {
      assert.ok(pid > 0, 'the script wrote its pid');
      assert.ok(!processAlive(pid), `process ${pid} is dead when runJob resolves`);
    }
  }

  const startTree = [
    'sleep 1000 & echo $! > "$PIDS/background.pid"',
    '(sh -c \'echo $$ > "$PIDS/grandchild.pid"; exec sleep 1000\') &',
    'sh -c \'trap "" TERM; echo $$ > "$PIDS/stubborn.pid"; exec sleep 1000\' &',
    'while [ ! -s "$PIDS/grandchild.pid" ] || [ ! -s "$PIDS/stubborn.pid" ]; do sleep 0.01; done',
    'echo ready',
  ];

  it('kills a sleeping grandchild when the job times out', async () => {
    const dir = await pidDir();
    const { result, log } = await sandbox.run(makeJob({ timeoutMs: 3000, script: [...startTree, 'sleep 1000'] }), {
      variables: { PIDS: dir },
    });
    assert.equal(result.status, 'failed', log);
    assert.deepEqual(result.failure, { kind: 'timeout', message: 'job exceeded its timeout of 3s' });
    assert.equal(result.exitCode, null);
    assert.match(log, /^ready$/m);
    assert.match(log, /ERROR: Job failed: job exceeded its timeout of 3s/);
    await assertAllDead(await pids(dir, 'background', 'grandchild', 'stubborn'));
  });

  // Without the kill the job would run for 1000 s: the test's timeout is the check.
  it('cancels a running job through its signal and still runs after_script', { timeout: 30_000 }, async () => {
    const dir = await pidDir();
    const controller = new AbortController();
    const { result, log } = await sandbox.run(
      makeJob({ script: [...startTree, 'sleep 1000'], afterScript: ['echo "after=$CI_JOB_STATUS"'] }),
      {
        variables: { PIDS: dir },
        signal: controller.signal,
        onChunk: (chunk) => {
          if (chunk.kind === 'data' && chunk.stream === 'stdout' && /^ready$/m.test(chunk.data)) controller.abort();
        },
      },
    );
    assert.equal(result.status, 'canceled', log);
    assert.deepEqual(result.failure, { kind: 'canceled', message: 'job was canceled' });
    assert.match(log, /^after=canceled$/m);
    await assertAllDead(await pids(dir, 'background', 'grandchild', 'stubborn'));
  });

  // The background child would hold the output open for 1000 s: the test's timeout is the check.
  it('does not wait for a background child that keeps the output open after the shell exits', { timeout: 30_000 }, async () => {
    const dir = await pidDir();
    const { result, log } = await sandbox.run(
      makeJob({ script: ['sleep 1000 & echo $! > "$PIDS/holder.pid"', 'echo done'] }),
      { variables: { PIDS: dir } },
    );
    assert.equal(result.status, 'success', log);
    assert.match(log, /^done$/m);
    await assertAllDead(await pids(dir, 'holder'));
  });

  it('returns canceled without running anything when the signal is already aborted', async () => {
    const controller = new AbortController();
    controller.abort();
    const { result, log } = await sandbox.run(makeJob({ script: ['echo never'] }), { signal: controller.signal });
    assert.equal(result.status, 'canceled');
    assert.doesNotMatch(log, /^never$/m);
  });
});
