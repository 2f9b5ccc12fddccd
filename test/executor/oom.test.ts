import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openMemoryCgroup, oomKillCount } from '../../src/executor/oom.js';
import { tempDir } from '../support/git-repo.js';
import { makeJob, makeSandbox } from './helpers.js';

const V2_EVENTS = (kills: number) => `low 0\nhigh 0\nmax 12\noom 1\noom_kill ${kills}\noom_group_kill 0\n`;
const V1_OOM_CONTROL = (kills: number) => `oom_kill_disable 0\nunder_oom 0\noom_kill ${kills}\n`;

describe('reading the memory cgroup', () => {
  let temp: Awaited<ReturnType<typeof tempDir>>;
  before(async () => {
    temp = await tempDir('cgroup');
  });
  after(async () => {
    await temp.remove();
  });

  it('reads the limit and the OOM kill counter of a cgroup v2 layout, fresh on each call', async () => {
    const root = path.join(temp.dir, 'v2');
    await mkdir(root);
    await writeFile(path.join(root, 'memory.max'), '67108864\n');
    await writeFile(path.join(root, 'memory.events'), V2_EVENTS(0));
    const cgroup = await openMemoryCgroup(root);
    assert.equal(cgroup?.limitBytes, 64 * 1024 * 1024);
    assert.equal(await cgroup.oomKills(), 0);
    await writeFile(path.join(root, 'memory.events'), V2_EVENTS(2));
    assert.equal(await cgroup.oomKills(), 2);
  });

  it('reads the limit and the OOM kill counter of a cgroup v1 layout', async () => {
    const root = path.join(temp.dir, 'v1');
    await mkdir(path.join(root, 'memory'), { recursive: true });
    await writeFile(path.join(root, 'memory', 'memory.limit_in_bytes'), '134217728\n');
    await writeFile(path.join(root, 'memory', 'memory.oom_control'), V1_OOM_CONTROL(3));
    const cgroup = await openMemoryCgroup(root);
    assert.equal(cgroup?.limitBytes, 128 * 1024 * 1024);
    assert.equal(await cgroup.oomKills(), 3);
  });

  it('finds nothing without a limit (v2 max, v1 unlimited), without files, or without a counter', async () => {
    const v2 = path.join(temp.dir, 'v2-unlimited');
    await mkdir(v2);
    await writeFile(path.join(v2, 'memory.max'), 'max\n');
    await writeFile(path.join(v2, 'memory.events'), V2_EVENTS(0));
    const v1 = path.join(temp.dir, 'v1-unlimited');
    await mkdir(path.join(v1, 'memory'), { recursive: true });
    await writeFile(path.join(v1, 'memory', 'memory.limit_in_bytes'), '9223372036854771712\n');
    await writeFile(path.join(v1, 'memory', 'memory.oom_control'), V1_OOM_CONTROL(0));
    const oldKernel = path.join(temp.dir, 'v1-old-kernel');
    await mkdir(path.join(oldKernel, 'memory'), { recursive: true });
    await writeFile(path.join(oldKernel, 'memory', 'memory.limit_in_bytes'), '134217728\n');
    await writeFile(path.join(oldKernel, 'memory', 'memory.oom_control'), 'oom_kill_disable 0\nunder_oom 0\n');
    for (const root of [v2, v1, oldKernel, path.join(temp.dir, 'missing')]) {
      assert.equal(await openMemoryCgroup(root), null, root);
    }
  });

  it('parses the oom_kill line only, not oom or oom_group_kill', () => {
    assert.equal(oomKillCount('oom 5\noom_group_kill 7\n'), null);
    assert.equal(oomKillCount(V2_EVENTS(9)), 9);
  });
});

describe('a step killed for memory', () => {
  let sandbox: Awaited<ReturnType<typeof makeSandbox>>;
  let root: string;
  before(async () => {
    sandbox = await makeSandbox();
    root = path.join(sandbox.dir, 'cgroup');
    await mkdir(root);
    await writeFile(path.join(root, 'memory.max'), '67108864\n');
  });
  after(async () => {
    await sandbox.remove();
  });

  it('fails as a script failure with exit code 137 and a message about the memory limit when the counter rose', async () => {
    await writeFile(path.join(root, 'memory.events'), V2_EVENTS(4));
    // What the kernel does, by hand: count the kill, then SIGKILL the step.
    const script = [`printf 'oom_kill 5\\n' > ${root}/memory.events`, 'kill -9 $$'];
    const { result, log } = await sandbox.run(makeJob({ script }), { cgroupRoot: root });
    assert.equal(result.status, 'failed');
    assert.deepEqual(result.failure, {
      kind: 'script_failure',
      exitCode: 137,
      message: "out of memory: the kernel killed the step (memory limit 64 MiB); raise resources.memory or the template's memoryMiB",
    });
    assert.equal(result.exitCode, 137);
    assert.match(log, /ERROR: Job failed: out of memory/);
  });

  it('warns that after_script was killed for memory when the counter rose, and leaves the job succeeded', async () => {
    await writeFile(path.join(root, 'memory.events'), V2_EVENTS(4));
    const afterScript = [`printf 'oom_kill 5\\n' > ${root}/memory.events`, 'kill -9 $$'];
    const { result, log } = await sandbox.run(makeJob({ script: ['echo fine'], afterScript }), { cgroupRoot: root });
    assert.equal(result.status, 'success', log);
    assert.match(log, /WARNING: after_script failed: out of memory: the kernel killed the step \(memory limit 64 MiB\).*; the job status is not changed/);
  });

  it('keeps the usual message for a SIGKILL the counter did not see', async () => {
    await writeFile(path.join(root, 'memory.events'), V2_EVENTS(4));
    const { result } = await sandbox.run(makeJob({ script: ['kill -9 $$'] }), { cgroupRoot: root });
    assert.equal(result.failure?.kind, 'script_failure');
    assert.match(result.failure.message, /^script failed with exit code 137/);
  });
});
