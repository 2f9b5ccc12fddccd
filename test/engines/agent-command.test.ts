import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, it } from 'node:test';
import { agentArgs } from '../../src/engines/agent-command.js';
import { agentContainerOptions, WORK_DIR } from '../../src/engines/docker/container.js';
import { DEFAULT_AGENT_SCRIPT, resolveConfig } from '../../src/engines/docker/config.js';
import type { LaunchSpec } from '../../src/engines/index.js';
import { runtimeIdentity } from '../../src/engines/docker/runtime.js';
import { tempDir } from '../support/git-repo.js';

const SPEC: LaunchSpec = { agentName: 'a-1', template: 'default', serverUrl: 'http://127.0.0.1:8080', token: 'secret-token-value', env: { EXTRA: '1' } };

describe('agent command', () => {
  const config = resolveConfig({ serverId: 'server-1', templates: [{ name: 'default', image: 'slipway/base:bookworm', labels: ['linux', 'docker'], cpus: 0.5, memoryMiB: 256 }] });
  const template = config.templates[0] ?? assert.fail('no template');

  it('names the server, the agent, its labels, resources and work folder, and never the token', () => {
    const args = agentArgs(SPEC, template, '/work');
    assert.deepEqual(args, ['agent', '--server', SPEC.serverUrl, '--name', 'a-1', '--labels', 'linux,docker', '--cpus', '0.5', '--memory-mib', '256', '--work-dir', '/work']);
    assert.ok(!args.some((arg) => arg.includes(SPEC.token)));
  });

  it('is what a docker agent container runs after the runtime node and bundle, with the token only in its environment', () => {
    const options = agentContainerOptions({
      taskId: 'slipway-docker-a-1',
      engineName: 'docker',
      serverId: 'server-1',
      spec: SPEC,
      template,
      image: 'slipway/base:bookworm',
      runtime: { volume: 'slipway-runtime-x', nodePath: '/opt/slipway/node', scriptPath: '/opt/slipway/slipway-agent.mjs' },
      socketPath: null,
    });
    assert.deepEqual(options.Entrypoint, ['/opt/slipway/node']);
    assert.deepEqual(options.Cmd, ['/opt/slipway/slipway-agent.mjs', ...agentArgs(SPEC, template, WORK_DIR)]);
    assert.ok(options.Env?.includes(`SLIPWAY_AGENT_TOKEN=${SPEC.token}`));
    assert.ok(!JSON.stringify(options.Cmd).includes(SPEC.token));
  });

  it('ships the agent bundle the docker engine mounts in the npm package', async () => {
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { files: string[] };
    assert.match(DEFAULT_AGENT_SCRIPT, /dist\/agent-bundle\/slipway-agent\.mjs$/);
    assert.ok(pkg.files.includes('dist/agent-bundle'), `package.json files: ${JSON.stringify(pkg.files)}`);
  });

  it('runs the agent bundle with a bare node, away from the install, from its compiled code cache', async () => {
    const bundle = await readFile(DEFAULT_AGENT_SCRIPT, 'utf8');
    assert.match(bundle, /^const cache = "[A-Za-z0-9+/=]{1000,}";$/m, 'the bundle carries a code cache');
    const pkg = JSON.parse(await readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    const dir = await tempDir('agent-bundle');
    try {
      const copy = path.join(dir.dir, 'slipway-agent.mjs');
      await copyFile(DEFAULT_AGENT_SCRIPT, copy);
      const { stdout } = await promisify(execFile)(process.execPath, [copy, '--version'], { cwd: dir.dir });
      assert.equal(stdout.trim(), pkg.version);
    } finally {
      await dir.remove();
    }
  });

  it('gives builds of one agent source, whose code caches differ, one runtime volume, and another source another', async () => {
    const dir = await tempDir('agent-runtime-identity');
    try {
      const file = (name: string) => path.join(dir.dir, name, 'slipway-agent.mjs');
      const agent = (source: string, cache: string) => `const source = ${JSON.stringify(source)};\nconst cache = ${JSON.stringify(cache)};\nrun(source, cache);\n`;
      const versions: Array<[string, string, string]> = [['a', 'one()', 'AAAA'], ['b', 'one()', 'QkJC'], ['c', 'two()', 'AAAA']];
      for (const [name, source, cache] of versions) {
        await mkdir(path.dirname(file(name)), { recursive: true });
        await writeFile(file(name), agent(source, cache));
      }
      const [a, b, c] = await Promise.all(['a', 'b', 'c'].map((name) => runtimeIdentity(process.execPath, file(name))));
      assert.equal(a?.volume, b?.volume);
      assert.notEqual(a?.volume, c?.volume);
    } finally {
      await dir.remove();
    }
  });
});
