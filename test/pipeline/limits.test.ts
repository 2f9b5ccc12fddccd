import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertError, errorsOf } from './helpers.js';

/** The classic "billion laughs": nine levels of nine aliases, 9^9 values once expanded. */
function billionLaughs(): string {
  const lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]'];
  for (let level = 1; level < 9; level++) {
    const name = String.fromCharCode(97 + level);
    const previous = String.fromCharCode(96 + level);
    lines.push(`${name}: &${name} [${Array(9).fill(`*${previous}`).join(', ')}]`);
  }
  return `${lines.join('\n')}\njob:\n  script: *i\n`;
}

describe('parsePipeline limits on hostile files', () => {
  it('rejects a billion-laughs file with too many alias expansions', () => {
    const errors = errorsOf(billionLaughs());
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /^\d+:\d+: too many alias expansions: resolving `\*[a-i]` here takes the file past 10000 values/);
  });

  it('rejects alias bombs built from merge keys', () => {
    const lines = ['x0: &x0 { a: 1, b: 2, c: 3 }'];
    for (let i = 1; i <= 20; i++) lines.push(`x${i}: &x${i}\n  k: [*x${i - 1}, *x${i - 1}]\n  <<: *x${i - 1}`);
    assert.match(errorsOf(`${lines.join('\n')}\n`).join('\n'), /too many alias expansions/);
  });

  it('rejects an alias inside the value it names', () => {
    assertError(errorsOf('job:\n  script: &s [a, *s]\n'), '2:18', /alias `\*s` is inside the value it refers to/);
  });

  it('rejects deep flow nesting before parsing it', () => {
    const errors = errorsOf(`job: ${'['.repeat(100_000)}`);
    assert.deepEqual(errors, ['1:70: values are nested more than 64 levels deep; flatten the file']);
  });

  it('rejects deep block nesting at the first value too deep', () => {
    const lines = ['job:'];
    for (let depth = 1; depth <= 70; depth++) lines.push(`${'  '.repeat(depth)}k${depth}:`);
    const errors = errorsOf(`${lines.join('\n')} 1\n`);
    assert.equal(errors.length, 1);
    assert.match(errors[0] ?? '', /^65:\d+: values are nested more than 64 levels deep/);
  });

  it('rejects nesting that only grows too deep through an alias', () => {
    const deep = `${'['.repeat(40)}x${']'.repeat(40)}`;
    assert.match(errorsOf(`.a: &a ${deep}\njob:\n  script: [${'['.repeat(30)}*a${']'.repeat(30)}]\n`).join('\n'), /nested more than 64 levels deep once `\*a` is resolved/);
  });

  it('rejects a file over 1 MiB', () => {
    const errors = errorsOf(`job:\n  script: x\n# ${'x'.repeat(1024 * 1024)}\n`);
    assert.deepEqual(errors, ['1:1: the file is 1025 KiB; a pipeline file may be at most 1024 KiB']);
  });

  it('rejects a file with too many values', () => {
    const errors = errorsOf(`job:\n  script:\n${'    - x\n'.repeat(100_001)}`);
    assert.deepEqual(errors, ['1:1: the file has more than 100000 YAML values; split it or simplify it']);
  });

  it('rejects more than 1000 jobs after expansion', () => {
    const jobs = Array.from({ length: 11 }, (_, i) => `j${i}:\n  script: x\n  parallel: 100\n`).join('');
    const errors = errorsOf(jobs);
    assert.deepEqual(errors, ['31:1: the pipeline has more than 1000 jobs once `parallel` is expanded; split it or reduce `parallel`']);
  });

  it('rejects templates copied into jobs past the value limit', () => {
    const template = `.t:\n  script: [${Array.from({ length: 2000 }, (_, i) => `c${i}`).join(', ')}]\n`;
    const jobs = Array.from({ length: 150 }, (_, i) => `j${i}:\n  extends: .t\n`).join('');
    assert.match(errorsOf(template + jobs).join('\n'), /the jobs hold more than 200000 values once `extends` and aliases are applied/);
  });

  it('rejects an overly long or deeply parenthesized expression', () => {
    assertError(errorsOf(`job:\n  script: x\n  rules:\n    - if: '${'$A == "x" && '.repeat(400)}$B'\n`), '4:12', /longer than 4096 characters/);
    assertError(errorsOf(`job:\n  script: x\n  rules:\n    - if: '${'('.repeat(40)}$A${')'.repeat(40)}'\n`), '4:44', /nests parentheses more than 32 deep/);
  });
});
