import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { tempDir } from '../support/git-repo.js';
import { startSlipway } from './cli.js';

describe('slipway validate', () => {
  let dir: string;
  let remove: () => Promise<void>;
  before(async () => {
    ({ dir, remove } = await tempDir('validate'));
  });
  after(async () => {
    await remove();
  });

  async function validate(name: string, text: string, ...args: string[]) {
    await writeFile(path.join(dir, name), text);
    return startSlipway(['validate', name, ...args], { cwd: dir }).done;
  }

  it('prints the plan of a valid file: stages, expanded jobs and their needs', async () => {
    const out = await validate('good.yml', `
stages: [build, test]
build:
  stage: build
  script: make
test:
  stage: test
  needs: [build]
  parallel:
    matrix:
      - OS: [linux, mac]
  script: make test
`);
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stdout, /good\.yml is valid: 2 stages, 3 jobs/);
    assert.match(out.stdout, /test: \[OS=linux\]\s+needs build/);
    assert.match(out.stdout, /test: \[OS=mac\]\s+needs build/);
  });

  it('prints every error with file:line:column and exits 1', async () => {
    const out = await validate('bad.yml', `
build:
  stage: nowhere
  script: make
  timeout: soon
test:
  needs: [buidl]
  script: make test
`);
    assert.equal(out.code, 1);
    assert.match(out.stderr, /bad\.yml:3:\d+: .*nowhere/);
    assert.match(out.stderr, /bad\.yml:5:\d+: .*timeout/);
    assert.match(out.stderr, /bad\.yml:7:\d+: .*buidl.*build/);
  });

  it('gives machines JSON with --json', async () => {
    const ok = await validate('json.yml', 'job:\n  script: echo hi\n', '--json');
    assert.equal(ok.code, 0);
    const parsed = JSON.parse(ok.stdout) as { valid: boolean; plan: { jobs: Array<{ name: string }> } };
    assert.equal(parsed.valid, true);
    assert.deepEqual(parsed.plan.jobs.map((j) => j.name), ['job']);

    const bad = await validate('json-bad.yml', 'job:\n  script: [\n', '--json');
    assert.equal(bad.code, 1);
    const errors = (JSON.parse(bad.stdout) as { valid: boolean; errors: Array<{ line: number; column: number }> }).errors;
    assert.ok(errors.length > 0 && errors.every((e) => e.line >= 1 && e.column >= 1));
  });

  it('explains a file that cannot be read', async () => {
    const out = await startSlipway(['validate', 'missing.yml'], { cwd: dir }).done;
    assert.equal(out.code, 1);
    assert.match(out.stderr, /cannot read missing\.yml/);
  });
});
