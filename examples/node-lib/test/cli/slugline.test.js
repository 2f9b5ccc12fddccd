import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';

test('the slugline command prints a slug', () => {
  const out = execFileSync(process.execPath, ['bin/slugline.js', 'slug', 'Ship', 'it!'], { encoding: 'utf8' });
  assert.equal(out, 'ship-it\n');
});

test('the slugline command refuses an unknown mode', () => {
  assert.throws(() => execFileSync(process.execPath, ['bin/slugline.js', 'shout'], { stdio: 'pipe' }));
});
