import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { rawTarGz } from '../archive/helpers.js';
import { makeJob, makeSandbox } from './helpers.js';

describe('unsafe artifacts in a job', () => {
  let sandbox: Awaited<ReturnType<typeof makeSandbox>>;
  before(async () => {
    sandbox = await makeSandbox();
  });
  after(async () => {
    await sandbox.remove();
  });

  it('fails the job with a system failure naming the entry, before any script runs', async () => {
    const file = path.join(sandbox.dir, 'evil.tar.gz');
    await writeFile(file, rawTarGz([{ path: '../../evil', body: 'evil' }]));
    const { result, log } = await sandbox.run(makeJob({ script: ['echo never'] }), {
      artifactsIn: [{ job: 'evil', archive: file }],
    });
    assert.equal(result.status, 'failed');
    assert.equal(result.failure?.kind, 'system_failure');
    assert.match(result.failure.message, /entry '\.\.\/\.\.\/evil' is not allowed/);
    assert.doesNotMatch(log, /^never$/m);
  });
});
