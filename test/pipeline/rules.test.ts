import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { assertError, context, errorsOf, jobOf, namesOf, outcomeOf, planOf, yml } from './helpers.js';

/** Whether a job with this one `if:` rule runs with these variables. */
function runsWith(condition: string, variables: Record<string, string>): boolean {
  const text = `other:\n  script: x\njob:\n  script: x\n  rules:\n    - if: '${condition.replaceAll("'", "''")}'\n`;
  return namesOf(planOf(text, context(variables))).includes('job');
}

describe('rules: if: expressions', () => {
  const branch = { CI_COMMIT_BRANCH: 'main', CI_PIPELINE_SOURCE: 'push' };
  const tag = { CI_COMMIT_TAG: 'v1.2.3', CI_PIPELINE_SOURCE: 'push' };
  const mr = { CI_PIPELINE_SOURCE: 'merge_request_event', CI_COMMIT_BRANCH: 'feature/login' };
  const precedence = '$CI_PIPELINE_SOURCE == "schedule" || $CI_COMMIT_BRANCH == "main" && $DEPLOY == "yes"';
  const grouped = '($CI_PIPELINE_SOURCE == "schedule" || $CI_COMMIT_BRANCH == "main") && $DEPLOY == "yes"';
  const mrOrTag = '$CI_PIPELINE_SOURCE == "merge_request_event" || $CI_COMMIT_TAG';
  const longName = `V${'_'.repeat(320)}`;

  /** Each behaviour with [condition, variables, whether the job runs]. */
  const cases: Array<[string, Array<[string, Record<string, string>, boolean]>]> = [
    ['compares a branch with == and !=', [
      ['$CI_COMMIT_BRANCH == "main"', branch, true],
      ["$CI_COMMIT_BRANCH == 'main'", mr, false],
      ['$CI_COMMIT_BRANCH != "main"', mr, true],
      ['"main" == $CI_COMMIT_BRANCH', branch, true],
    ]],
    ['treats a bare variable as true when it is set and not empty', [
      ['$CI_COMMIT_TAG', tag, true],
      ['$CI_COMMIT_TAG', branch, false],
      ['$CI_COMMIT_TAG', { CI_COMMIT_TAG: '' }, false],
      ['${CI_COMMIT_TAG}', tag, true],
    ]],
    ['reads a variable name of any length', [
      [`$${longName} == "x"`, { [longName]: 'x' }, true],
      [`\${${longName}}`, { [longName]: 'x' }, true],
    ]],
    ['compares an unset variable equal to null and to the empty string', [
      ['$NOPE == null', branch, true],
      ['$NOPE == ""', branch, true],
      ['$CI_COMMIT_BRANCH == null', branch, false],
      ['$CI_COMMIT_BRANCH != null', branch, true],
    ]],
    ['matches regular expressions with =~ and !~, flags included', [
      ['$CI_COMMIT_TAG =~ /^v\\d+\\.\\d+\\.\\d+$/', tag, true],
      ['$CI_COMMIT_BRANCH =~ /^FEATURE\\//i', mr, true],
      ['$CI_COMMIT_BRANCH =~ /^feature\\//', branch, false],
      ['$CI_COMMIT_BRANCH !~ /^feature\\//', branch, true],
      ['$CI_COMMIT_MESSAGE =~ /\\[skip tests\\]/', { CI_COMMIT_MESSAGE: 'fix [skip tests]' }, true],
    ]],
    ['takes the pattern from a variable holding /regex/', [
      ['$CI_COMMIT_BRANCH =~ $PATTERN', { ...mr, PATTERN: '/^feature/' }, true],
      ['$CI_COMMIT_BRANCH =~ $PATTERN', { ...mr, PATTERN: 'not a regex' }, false],
    ]],
    ['binds && tighter than || and honours parentheses', [
      [precedence, { CI_PIPELINE_SOURCE: 'schedule' }, true],
      [precedence, { ...branch, DEPLOY: 'no' }, false],
      [precedence, { ...branch, DEPLOY: 'yes' }, true],
      [grouped, { CI_PIPELINE_SOURCE: 'schedule' }, false],
      [grouped, { CI_PIPELINE_SOURCE: 'schedule', DEPLOY: 'yes' }, true],
    ]],
    ['tells merge request, tag and branch pipelines apart', [
      [mrOrTag, mr, true],
      [mrOrTag, tag, true],
      [mrOrTag, branch, false],
    ]],
  ];
  for (const [behaviour, checks] of cases) {
    it(behaviour, () => {
      for (const [condition, variables, runs] of checks) {
        assert.equal(runsWith(condition, variables), runs, `${condition} with ${JSON.stringify(variables)}`);
      }
    });
  }

  it('reports a syntax error at the offending token', () => {
    const errors = errorsOf(yml`
      job:
        script: x
        rules:
          - if: $CI_COMMIT_BRANCH == "main" && && $X
          - if: '$A == "x" ) '
          - if: $A =~ "not a regex"
          - if: $A = "b"
          - if: $A =~ /(/
    `);
    assert.deepEqual(errors, [
      '4:42: `rules.if` has `&&` where a `$VARIABLE`, a "string" or `null` was expected after `&&` (in job `job`)',
      '5:22: `rules.if` has a `)` without a matching `(` (in job `job`)',
      '6:17: `rules.if` needs a /regular expression/ after `=~` (in job `job`)',
      '7:14: `rules.if` has an unexpected `=`; expressions look like `$CI_COMMIT_BRANCH == "main" && $CI_PIPELINE_SOURCE != "schedule"` (in job `job`)',
      '8:17: `rules.if` has an invalid regular expression: /(/: Unterminated group (in job `job`)',
    ]);
  });

  it('reports an unclosed string or parenthesis and an unsupported flag', () => {
    assertError(errorsOf('job:\n  script: x\n  rules:\n    - if: $A == "x\n'), '4:17', /string that is not closed/);
    assertError(errorsOf('job:\n  script: x\n  rules:\n    - if: ($A == "x"\n'), '4:21', /missing a `\)`/);
    assertError(errorsOf('job:\n  script: x\n  rules:\n    - if: $A =~ /x/g\n'), '4:20', /flag `g`; only `i`, `m` and `s`/);
  });
});

describe('rules: changes: and exists:', () => {
  const text = yml`
    docs:
      script: make docs
      rules:
        - changes: ['docs/**/*', '*.md']
    api:
      script: make api
      rules:
        - changes: { paths: [src/api/**] }
    docker:
      script: docker build .
      rules:
        - exists: [Dockerfile]
  `;

  it('matches changed files against globs, with ** across folders and * within one', () => {
    assert.deepEqual(namesOf(planOf(text, context({}, ['docs/guide/intro.txt'], []))), ['docs']);
    assert.deepEqual(namesOf(planOf(text, context({}, ['README.md'], []))), ['docs']);
    assert.deepEqual(namesOf(planOf(text, context({}, ['src/api/v1/users.ts', 'sub/README.md'], []))), ['api']);
  });

  it('matches changes and exists when the file lists are unknown', () => {
    assert.deepEqual(namesOf(planOf(text, context({}, null, null))), ['docs', 'api', 'docker']);
  });

  it('matches exists against the files of the commit', () => {
    assert.deepEqual(namesOf(planOf(text, context({}, [], ['Dockerfile', 'src/x.ts']))), ['docker']);
  });

  it('expands variables in change globs', () => {
    const plan = planOf('job:\n  script: x\n  rules:\n    - changes: [$DIR/**]\n', context({ DIR: 'services/web' }, ['services/web/app.ts'], []));
    assert.deepEqual(namesOf(plan), ['job']);
  });

  it('expands change globs with each matrix copy\'s own variables', () => {
    const text = 'job:\n  script: x\n  parallel:\n    matrix:\n      - DIR: [web, api]\n  rules:\n    - changes: [$DIR/**]\n';
    assert.deepEqual(namesOf(planOf(text, context({}, ['api/main.ts'], []))), ['job: [DIR=api]']);
  });

  it('requires every condition of one rule to hold', () => {
    const both = 'job:\n  script: x\n  rules:\n    - if: $CI_COMMIT_BRANCH == "main"\n      changes: [src/**]\n';
    assert.equal(outcomeOf(both, context({ CI_COMMIT_BRANCH: 'main' }, ['docs/x'], [])).run, false);
    assert.deepEqual(namesOf(planOf(both, context({ CI_COMMIT_BRANCH: 'main' }, ['src/x'], []))), ['job']);
  });
});

describe('rules: outcomes', () => {
  it('lets the first matching rule decide, and excludes a job no rule matches', () => {
    const text = yml`
      always:
        script: x
      job:
        script: x
        rules:
          - if: $CI_COMMIT_TAG
            when: never
          - if: $CI_COMMIT_BRANCH == "main"
            when: manual
            allow_failure: true
          - if: $CI_COMMIT_BRANCH
    `;
    assert.deepEqual(namesOf(planOf(text, context({ CI_COMMIT_TAG: 'v1', CI_COMMIT_BRANCH: 'main' }))), ['always']);
    const main = jobOf(planOf(text, context({ CI_COMMIT_BRANCH: 'main' })), 'job');
    assert.equal(main.when, 'manual');
    assert.deepEqual(main.allowFailure, { exitCodes: null });
    const feature = jobOf(planOf(text, context({ CI_COMMIT_BRANCH: 'feature' })), 'job');
    assert.equal(feature.when, 'on_success');
    assert.equal(feature.allowFailure, false);
    assert.deepEqual(namesOf(planOf(text, context({}))), ['always']);
  });

  it('matches a rule without conditions', () => {
    const plan = planOf('job:\n  script: x\n  rules:\n    - if: $NOPE\n    - when: always\n');
    assert.equal(jobOf(plan, 'job').when, 'always');
  });

  it('delays a job from a rule with start_in', () => {
    const job = jobOf(planOf('job:\n  script: x\n  rules:\n    - when: delayed\n      start_in: 2h\n'), 'job');
    assert.equal(job.when, 'delayed');
    assert.equal(job.startInMs, 2 * 3600_000);
  });

  it('overrides job variables with rule variables, and sees job and matrix variables in conditions', () => {
    const plan = planOf(yml`
      job:
        script: x
        variables: { LEVEL: low, TARGET: staging }
        parallel:
          matrix:
            - OS: [linux, windows]
        rules:
          - if: $OS == "windows"
            when: never
          - if: $LEVEL == "low"
            variables: { TARGET: production }
    `);
    assert.deepEqual(namesOf(plan), ['job: [OS=linux]']);
    assert.deepEqual(jobOf(plan, 'job: [OS=linux]').variables, { LEVEL: 'low', TARGET: 'production', OS: 'linux' });
  });

  it('does not run the pipeline when the rules exclude every job', () => {
    const outcome = outcomeOf('job:\n  script: x\n  rules:\n    - if: $CI_COMMIT_TAG\n', context({}));
    assert.equal(outcome.run, false);
    assert.ok(!outcome.run && /excluded every job/.test(outcome.reason));
  });
});

describe('workflow: rules:', () => {
  const text = yml`
    variables: { DEPLOY_TO: none }
    workflow:
      rules:
        - if: $CI_PIPELINE_SOURCE == "schedule"
          when: never
        - if: $CI_COMMIT_BRANCH == $CI_DEFAULT_BRANCH
          variables: { DEPLOY_TO: production }
        - if: $CI_COMMIT_TAG
    job:
      script: deploy $DEPLOY_TO
  `;

  it('runs the pipeline when a rule matches, with that rule\'s variables', () => {
    const plan = planOf(text, context({ CI_COMMIT_BRANCH: 'main', CI_DEFAULT_BRANCH: 'main', CI_PIPELINE_SOURCE: 'push' }));
    assert.deepEqual(plan.variables, { DEPLOY_TO: 'production' });
    assert.deepEqual(jobOf(plan, 'job').variables, { DEPLOY_TO: 'production' });
    assert.deepEqual(planOf(text, context({ CI_COMMIT_TAG: 'v1', CI_DEFAULT_BRANCH: 'main' })).variables, { DEPLOY_TO: 'none' });
  });

  it('compares two unset variables as equal, since both are empty', () => {
    assert.deepEqual(planOf(text, context({ CI_COMMIT_TAG: 'v1' })).variables, { DEPLOY_TO: 'production' });
  });

  it('does not run the pipeline when the matching rule says never', () => {
    const outcome = outcomeOf(text, context({ CI_PIPELINE_SOURCE: 'schedule', CI_COMMIT_BRANCH: 'main', CI_DEFAULT_BRANCH: 'main' }));
    assert.equal(outcome.run, false);
    assert.ok(!outcome.run && /line 4.*when: never/.test(outcome.reason));
  });

  it('does not run the pipeline when no rule matches', () => {
    const outcome = outcomeOf(text, context({ CI_COMMIT_BRANCH: 'feature', CI_DEFAULT_BRANCH: 'main' }));
    assert.equal(outcome.run, false);
    assert.ok(!outcome.run && /no `workflow: rules:` entry matched/.test(outcome.reason));
  });

  it('accepts only always and never as a workflow rule `when`', () => {
    assertError(errorsOf('workflow:\n  rules:\n    - when: manual\njob:\n  script: x\n'), '3:13', /`rules.when` must be `always` or `never`, not `manual` \(in `workflow`\)/);
  });
});
