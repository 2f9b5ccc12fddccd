import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stringify } from 'yaml';
import { parsePipeline, planPipeline, type PipelineDiagnostic, type Plan } from '../../src/pipeline/index.js';
import { FILE, context, yml } from './helpers.js';

const VALID = yml`
  variables: { NODE: "20" }
  stages: [build, test, deploy]
  .base: &base
    image: node:20
    retry: { max: 1, when: [agent_lost] }
  default:
    labels: [linux]
  build:
    <<: *base
    stage: build
    script: [make]
    artifacts: { paths: [dist/], expire_in: 1 week }
  test:
    extends: .base
    needs: [build]
    script: make test
    parallel:
      matrix:
        - NODE: [18, 20]
          DB: [pg]
    rules:
      - if: $CI_COMMIT_BRANCH =~ /^main$/ && $X != "1"
        changes: [src/**]
  deploy:
    stage: deploy
    script: ./deploy
    when: manual
`;

function assertPositioned(errors: readonly PipelineDiagnostic[]): void {
  assert.ok(errors.length > 0, 'a failure must say why');
  for (const error of errors) {
    assert.equal(error.file, FILE);
    assert.ok(Number.isInteger(error.line) && error.line >= 1, `line ${error.line}`);
    assert.ok(Number.isInteger(error.column) && error.column >= 1, `column ${error.column}`);
    assert.ok(error.message.length > 0);
    assert.doesNotMatch(error.message, /internal error/, error.message);
  }
}

/** Unique job names, edges between planned jobs, no cycle, no empty stage. */
function assertSound(plan: Plan): void {
  const names = new Set(plan.jobs.map((job) => job.name));
  assert.equal(names.size, plan.jobs.length, 'job names are unique');
  const next = new Map<string, string[]>();
  for (const edge of plan.edges) {
    assert.ok(names.has(edge.from) && names.has(edge.to), `edge ${edge.from} -> ${edge.to} joins planned jobs`);
    next.set(edge.from, [...(next.get(edge.from) ?? []), edge.to]);
  }
  for (const job of plan.jobs) for (const source of job.artifactsFrom) assert.ok(names.has(source));
  const state = new Map<string, 'active' | 'done'>();
  const visit = (name: string): void => {
    state.set(name, 'active');
    for (const to of next.get(name) ?? []) {
      assert.notEqual(state.get(to), 'active', `cycle through ${to}`);
      if (!state.has(to)) visit(to);
    }
    state.set(name, 'done');
  };
  for (const name of names) if (!state.has(name)) visit(name);
  for (const stage of plan.stages) assert.ok(plan.jobs.some((job) => job.stage === stage), `stage ${stage} holds a job`);
}

/** Parses and, when valid, plans: either a value or positioned errors, never a throw. */
function assertTotal(text: string, variables: Record<string, string> = {}): void {
  const parsed = parsePipeline(text, FILE);
  if (parsed.ok) {
    const planned = planPipeline(parsed.value, context(variables, ['src/a.ts'], ['Dockerfile']));
    if (!planned.ok) assertPositioned(planned.errors);
    else if (planned.value.run) assertSound(planned.value.plan);
  } else {
    assertPositioned(parsed.errors);
  }
}

const yamlish = fc
  .array(fc.constantFrom('a', 'job', ':', ': ', ' ', '\n', '\n  ', '- ', '[', ']', '{', '}', ',', '&x ', '*x', '<<: ', '"', "'", '#', '!!str ',
    '|', '>', '? ', 'script', 'needs', 'stage', 'extends', '.b', 'parallel', 'matrix', 'rules', 'if', '$X == "1"', '1', '201', 'null', '\t', '---'), { maxLength: 80 })
  .map((parts) => parts.join(''));

const keys = fc.constantFrom('script', 'stage', 'needs', 'extends', 'rules', 'parallel', 'matrix', 'variables', 'when', 'if', 'timeout', 'job',
  'artifacts', 'paths', 'cache', 'image', 'default', 'workflow', 'stages', '.tpl', 'build', 'test', 'A', '<<');
const { tree } = fc.letrec<{ tree: unknown; node: unknown }>((tie) => ({
  tree: fc.dictionary(keys, tie('node'), { maxKeys: 6 }),
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.oneof(fc.string({ maxLength: 12 }), fc.integer({ min: -5, max: 300 }), fc.boolean(), fc.constant(null), fc.constantFrom('build', '10m', 'on_success', '$X == "1"', 'delayed')),
    fc.array(tie('node'), { maxLength: 4 }),
    tie('tree'),
  ),
}));

const mutation = fc.oneof(
  fc.record({ kind: fc.constant('delete' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('duplicate' as const), line: fc.nat() }),
  fc.record({ kind: fc.constant('swap' as const), line: fc.nat(), other: fc.nat() }),
  fc.record({ kind: fc.constant('char' as const), at: fc.nat(), text: fc.string({ maxLength: 3 }) }),
  fc.record({ kind: fc.constant('indent' as const), line: fc.nat(), by: fc.integer({ min: -2, max: 2 }) }),
);
type Mutation = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function mutate(text: string, mutations: readonly Mutation[]): string {
  let lines = text.split('\n');
  for (const m of mutations) {
    const pick = (n: number): number => n % Math.max(1, lines.length);
    if (m.kind === 'delete') lines.splice(pick(m.line), 1);
    else if (m.kind === 'duplicate') lines.splice(pick(m.line), 0, lines[pick(m.line)] ?? '');
    else if (m.kind === 'swap') [lines[pick(m.line)], lines[pick(m.other)]] = [lines[pick(m.other)] ?? '', lines[pick(m.line)] ?? ''];
    else if (m.kind === 'indent') lines[pick(m.line)] = m.by > 0 ? ' '.repeat(m.by) + (lines[pick(m.line)] ?? '') : (lines[pick(m.line)] ?? '').slice(-m.by);
    else {
      const joined = lines.join('\n');
      const at = m.at % Math.max(1, joined.length);
      lines = (joined.slice(0, at) + m.text + joined.slice(at + 1)).split('\n');
    }
  }
  return lines.join('\n');
}

// A hang fails through the suite's timeout rather than a timing assertion.
describe('parsePipeline and planPipeline on any input', { timeout: 120_000 }, () => {
  it('accept the valid file these properties mutate', () => {
    const parsed = parsePipeline(VALID, FILE);
    assert.ok(parsed.ok);
  });

  it('return a value or positioned errors for arbitrary strings', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (text) => assertTotal(text)), { numRuns: 300 });
  });

  it('return a value or positioned errors for YAML-like token soup', () => {
    fc.assert(fc.property(yamlish, (text) => assertTotal(text)), { numRuns: 300 });
  });

  it('return a value or positioned errors for arbitrary YAML structures', () => {
    fc.assert(fc.property(fc.oneof(tree, fc.jsonValue({ maxDepth: 4 })), (value) => assertTotal(stringify(value))), { numRuns: 300 });
  });

  it('return a value or positioned errors for mutations of a valid file, and plan what stays valid', () => {
    const variables = fc.dictionary(fc.constantFrom('CI_COMMIT_BRANCH', 'X', 'CI_COMMIT_TAG'), fc.string({ maxLength: 6 }), { maxKeys: 3 });
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), variables, (mutations, vars) => assertTotal(mutate(VALID, mutations), vars)), { numRuns: 300 });
  });
});
