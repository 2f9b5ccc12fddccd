import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, it } from 'node:test';
import { tempDir } from '../support/git-repo.js';
import { agentProcesses } from '../server/provisioning/helpers.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

describe('the quick start', () => {
  it('builds the example project on a real server and local agents, and says the build succeeded', async () => {
    const { dir, remove } = await tempDir('quickstart');
    try {
      const home = path.join(dir, 'home');
      const child = spawn(process.execPath, [path.join(root, 'scripts', 'quickstart.mjs')], { cwd: dir, env: { ...process.env, SLIPWAY_HOME: home }, stdio: ['ignore', 'pipe', 'pipe'] });
      let output = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
      const code = await new Promise<number | null>((resolve, reject) => {
        child.once('error', reject);
        child.once('close', resolve);
      });
      assert.equal(code, 0, output);
      assert.match(output, /^Build #1 succeeded$/m);
      for (const job of ['build', 'lint', 'test: [SUITE=unit]', 'test: [SUITE=cli]', 'package']) {
        assert.match(output, new RegExp(`^${job.replace(/[[\]]/g, '\\$&')}\\s+success$`, 'm'));
      }
      assert.deepEqual(await agentProcesses(path.join(home, 'engines', 'local')), [], 'the agents were stopped with the server');
    } finally {
      await remove();
    }
  });
});
