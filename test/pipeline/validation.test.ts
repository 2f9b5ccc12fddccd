import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic, parsePipeline } from '../../src/pipeline/index.js';
import { FILE, assertError, errorsOf, jobOf, planOf, yml } from './helpers.js';

describe('parsePipeline validation', () => {
  it('reports an unknown key with the closest allowed key', () => {
    const errors = errorsOf('build:\n  scirpt: make\n');
    assertError(errors, '2:3', /^unknown key `scirpt` in job `build`; did you mean `script`\?$/);
  });

  it('reports an unknown nested key inside the mapping it is in', () => {
    const errors = errorsOf('build:\n  script: make\n  artifacts:\n    paths: [a]\n    expire: 1d\n');
    assert.deepEqual(errors, ['5:5: unknown key `expire` in `artifacts` of job `build`; did you mean `expire_in`?']);
  });

  it('lists the allowed keys of a small mapping when nothing is close', () => {
    const errors = errorsOf('build:\n  script: make\n  environment: { name: prod, zzz: 1 }\n');
    assertError(errors, '3:30', /unknown key `zzz` in `environment` of job `build`; expected `name`, `url` or `action`/);
  });

  it('says a wrong duration must be a duration, pointing at the value', () => {
    const errors = errorsOf('build:\n  script: make\n  timeout: ten minutes-ish\n');
    assert.deepEqual(errors, ['3:12: `timeout` must be a duration like 90s, 10m or 1h, not `ten minutes-ish` (in job `build`)']);
  });

  it('reports bad durations in start_in and artifacts.expire_in', () => {
    const errors = errorsOf(yml`
      job:
        script: x
        when: delayed
        start_in: soon
        artifacts: { paths: [a], expire_in: 3 fortnights }
    `);
    assertError(errors, '4:13', /`start_in` must be a duration like 30s, 5 minutes or 1 hour, not `soon`/);
    assertError(errors, '5:39', /`artifacts.expire_in` must be a duration like 30 days, 1 week or `never`/);
  });

  it('reports an unknown stage with the declared stages', () => {
    const errors = errorsOf('stages: [build, test]\njob:\n  stage: tset\n  script: x\n');
    assert.deepEqual(errors, ['3:10: stage `tset` of job `job` is not declared (declared stages: `build` and `test`); did you mean `test`?']);
  });

  it('reports a job in the default `test` stage when `stages` leaves it out', () => {
    const errors = errorsOf('stages: [build]\njob:\n  script: x\n');
    assertError(errors, '2:1', /job `job` has no `stage`, so it runs in `test`, which `stages:` does not declare/);
  });

  it('reports a need naming a missing job, with the closest job name', () => {
    const errors = errorsOf('build:\n  script: make\ntest:\n  script: t\n  needs: [biuld]\n');
    assert.deepEqual(errors, ['5:11: `needs` of job `test` names `biuld`, which is not a job in this file; did you mean `build`?']);
  });

  it('reports a need naming a hidden job', () => {
    const errors = errorsOf('.tpl:\n  script: make\ntest:\n  script: t\n  needs: [.tpl]\n');
    assertError(errors, '5:11', /names `\.tpl`, a hidden job .* which never runs/);
  });

  it('reports a needs cycle as a -> b -> c -> a', () => {
    const errors = errorsOf(yml`
      a:
        script: a
        needs: [b]
      b:
        script: b
        needs: [c]
      c:
        script: c
        needs: [a]
    `);
    assert.deepEqual(errors, ['3:11: `needs` cycle: a -> b -> c -> a; these jobs would wait for each other forever']);
  });

  it('reports a job that needs itself', () => {
    assertError(errorsOf('a:\n  script: a\n  needs: [a]\n'), '3:11', /`needs` cycle: a -> a/);
  });

  it('reports a need on a job of a later stage', () => {
    const errors = errorsOf('build:\n  stage: build\n  script: b\n  needs: [deploy]\ndeploy:\n  stage: deploy\n  script: d\n');
    assertError(errors, '4:11', /job `build` \(stage `build`\) needs `deploy` of the later stage `deploy`/);
  });

  it('reports dependencies that cannot provide artifacts', () => {
    const errors = errorsOf(yml`
      build:
        stage: build
        script: b
      test:
        script: t
        dependencies: [test2, nope]
      test2:
        script: t
      deploy:
        stage: deploy
        script: d
        needs: [build]
        dependencies: [test]
    `);
    assertError(errors, '6:18', /`dependencies` names `test2` of stage `test`, which does not finish before stage `test`/);
    assertError(errors, '6:25', /`dependencies` of job `test` names `nope`, which is not a job in this file/);
    assertError(errors, '13:18', /`dependencies` names `test`, which job `deploy` does not list in `needs`/);
  });

  it('reports a matrix larger than 200 jobs at the `matrix` key', () => {
    const values = Array.from({ length: 15 }, (_, i) => i).join(', ');
    const errors = errorsOf(yml`
      test:
        script: t
        parallel:
          matrix:
            - A: [${values}]
              B: [${values}]
    `);
    assert.deepEqual(errors, ['4:5: `parallel: matrix` of job `test` makes 225 jobs; the limit is 200 per job']);
  });

  it('reports a matrix that makes the same job twice', () => {
    assert.deepEqual(errorsOf('t:\n  script: t\n  parallel:\n    matrix:\n      - X: [a, a]\n'), [
      '1:1: job `t` makes `t: [X=a]` twice; remove the repeated `parallel: matrix` values',
    ]);
  });

  const clashes: Array<[string, string, string]> = [
    ['before', "'t 1/2':\n  script: a\nt:\n  script: t\n  parallel: 2\n", '3:1: job `t` expands to `t 1/2`, the same name as a job at line 1; rename one of them'],
    ['after', "t:\n  script: t\n  parallel: 2\n't 1/2':\n  script: a\n", '1:1: job `t` expands to `t 1/2`, the same name as a job at line 4; rename one of them'],
  ];
  for (const [where, text, error] of clashes) {
    it(`reports once, at the job that expands, a job named like its copy written ${where} it`, () => {
      assert.deepEqual(errorsOf(text), [error]);
    });
  }

  it('reports a matrix need that selects nothing', () => {
    const errors = errorsOf(yml`
      t:
        script: t
        parallel:
          matrix:
            - OS: [linux]
      u:
        script: u
        needs:
          - job: t
            parallel:
              matrix:
                - OS: mac
    `);
    assert.deepEqual(errors, ['11:9: `needs` of job `u` selects none of the matrix jobs of `t` (`t: [OS=linux]`)']);
  });

  it('reports `parallel` outside 2 to 200', () => {
    assert.deepEqual(errorsOf('t:\n  script: t\n  parallel: 201\n'), ['3:13: `parallel` must be at most 200, not `201` (in job `t`)']);
    assert.deepEqual(errorsOf('t:\n  script: t\n  parallel: 1\n'), ['3:13: `parallel` must be at least 2, not `1` (in job `t`)']);
  });

  it('reports a job without script at its name', () => {
    assert.deepEqual(errorsOf('lint:\n  stage: test\n'), ['1:1: job `lint` has no `script`; add `script:` with the commands to run']);
  });

  it('reports an empty script', () => {
    assert.deepEqual(errorsOf('lint:\n  script: []\n'), ['2:11: `script` must have at least one command (in job `lint`)']);
  });

  it('reports an empty job', () => {
    assert.deepEqual(errorsOf('lint:\n'), ['1:1: job `lint` must be a mapping of job keys such as `script:`, but it is empty']);
  });

  it('reports start_in without when: delayed, and when: delayed without start_in', () => {
    const errors = errorsOf(yml`
      a:
        script: a
        start_in: 5m
      b:
        script: b
        when: delayed
      c:
        script: c
        rules:
          - when: delayed
    `);
    assert.deepEqual(errors, [
      '3:3: `start_in` only applies with `when: delayed`; set `when: delayed` or remove `start_in` (in job `a`)',
      '6:9: `when: delayed` needs `start_in`, like `start_in: 30 minutes` (in job `b`)',
      '10:13: `when: delayed` needs `start_in` in the same rule, like `start_in: 30 minutes` (in job `c`)',
    ]);
  });

  it('says `when: never` belongs in rules', () => {
    assertError(errorsOf('a:\n  script: a\n  when: never\n'), '3:9', /`when` is `never`, which only works inside `rules:`/);
  });

  it('suggests the closest value of an enumeration', () => {
    assertError(errorsOf('a:\n  script: a\n  when: on_sucess\n'), '3:9', /`when` must be `on_success`, `on_failure`, `always`, `manual` or `delayed`, not `on_sucess`; did you mean `on_success`\?/);
  });

  it('reports wrong memory sizes and variable names', () => {
    const errors = errorsOf(yml`
      a:
        script: a
        resources: { cpus: 0, memory: lots }
        variables:
          bad-name: 1
          GOOD: [1, 2]
    `);
    assert.deepEqual(errors, [
      '3:22: `resources.cpus` must be greater than 0, not `0` (in job `a`)',
      '3:33: `resources.memory` must be a size like 512Mi, 2Gi, 1G or a number of MiB, not `lots` (in job `a`)',
      '5:5: `bad-name` must be a variable name: letters, digits and `_`, not starting with a digit (in job `a`)',
      '6:11: `variables.GOOD` must be a string, a number, true/false or `{ value, description }`, not a list (in job `a`)',
    ]);
  });

  it('reports a missing required key at the mapping that lacks it', () => {
    const errors = errorsOf('a:\n  script: a\n  deploy:\n    image: web:1\n');
    assert.deepEqual(errors, ['3:3: missing key `app` in `deploy` of job `a`']);
  });

  it('explains that script lines containing `: ` must be quoted', () => {
    const errors = errorsOf('a:\n  script:\n    - echo hello: world\n');
    assertError(errors, '3:7', /`script` item 1 must be a string or a list of strings; quote a command that contains `: `/);
  });

  it('rejects `labels` and `tags` together', () => {
    assertError(errorsOf('a:\n  script: a\n  labels: [x]\n  tags: [y]\n'), '4:3', /set `labels` or its GitLab name `tags`, not both/);
  });

  it('reports unsupported GitLab keywords at their position instead of ignoring them', () => {
    const errors = errorsOf(yml`
      include: other.yml
      job:
        script: x
        only: [main]
        trigger: downstream
    `);
    assert.deepEqual(errors, [
      '1:1: `include` is not supported yet; copy what it includes into this file (use hidden jobs and `extends` to share settings)',
      '4:3: `only` is not supported; use `rules:`, for example `rules: [{ if: \'$CI_COMMIT_BRANCH == "main"\' }]`',
      '5:3: `trigger` is not supported yet: Slipway cannot start downstream pipelines',
    ]);
  });

  it('points top-level settings GitLab used to allow to `default:`', () => {
    assertError(errorsOf('image: node:20\njob:\n  script: x\n'), '1:1', /`image` at the top level is not supported; put it under `default:`/);
  });

  it('recognizes a misspelled top-level keyword and a job key left at the top level', () => {
    const errors = errorsOf('stage: [a]\nscript: x\njob:\n  script: x\n');
    assertError(errors, '1:1', /`stage` at the top level is read as a job named `stage`/);
    assertError(errors, '2:1', /`script` at the top level is read as a job named `script`.*indent it under a job/);
    assertError(errorsOf('stagez: [a]\njob:\n  script: x\n'), '1:1', /unknown top-level key `stagez`; did you mean `stages`\?/);
  });

  it('reports stages listed twice and .pre out of place', () => {
    const errors = errorsOf('stages: [build, .pre, build]\njob:\n  stage: build\n  script: x\n');
    assert.deepEqual(errors, [
      '1:17: `.pre` is always the first stage; list it first or leave it out',
      '1:23: stage `build` is listed twice in `stages`',
    ]);
  });

  it('reports a file without jobs, an empty file and a file that is not a mapping', () => {
    assert.deepEqual(errorsOf('.hidden:\n  script: x\n'), [
      '1:1: the file defines no job; add one, like `build: { script: make }` (names starting with `.` are hidden templates)',
    ]);
    assert.deepEqual(errorsOf('# nothing\n'), ['1:1: the file is empty; define at least one job with a `script:`']);
    assertError(errorsOf('- a\n- b\n'), '1:1', /the file must be a mapping of top-level keys/);
  });
});

describe('parsePipeline with extends', () => {
  it('reports a template value after the merge, at the template and only once', () => {
    const errors = errorsOf(yml`
      .base:
        timeout: forever
        scirpt: x
      a:
        extends: .base
        script: a
      b:
        extends: [.base]
        script: b
    `);
    assert.deepEqual(errors, [
      '2:12: `timeout` must be a duration like 90s, 10m or 1h, not `forever` (in job `.base`)',
      '3:3: unknown key `scirpt` in job `.base`; did you mean `script`?',
    ]);
  });

  it('does not validate a hidden job nobody extends', () => {
    const result = parsePipeline('.anchors: &x [one, two]\n.unused:\n  scirpt: 1\njob:\n  script: *x\n', FILE);
    assert.equal(result.ok, true);
  });

  it('reports an unknown extends target with the closest name', () => {
    assert.deepEqual(errorsOf('.base:\n  script: x\njob:\n  extends: .bsae\n'), [
      '4:12: `extends` names `.bsae`, which is not defined in this file; did you mean `.base`?',
    ]);
  });

  it('reports an extends cycle with its path', () => {
    const errors = errorsOf(yml`
      job:
        extends: .a
        script: x
      .a:
        extends: .b
      .b:
        extends: [.c]
      .c:
        extends: .a
    `);
    assert.deepEqual(errors, ['9:12: `extends` cycle: .a -> .b -> .c -> .a; a job cannot inherit from itself']);
  });

  it('merges mappings deeply and replaces lists, over several levels', () => {
    const plan = planOf(yml`
      .one:
        variables: { A: one, B: one }
        script: [one]
        artifacts: { paths: [one/], when: always }
      .two:
        extends: .one
        variables: { B: two }
        artifacts: { paths: [two/] }
      job:
        extends: .two
        variables: { C: job }
    `);
    const job = jobOf(plan, 'job');
    assert.deepEqual(job.variables, { A: 'one', B: 'two', C: 'job' });
    assert.deepEqual(job.script, ['one']);
    assert.deepEqual(job.artifacts?.paths, ['two/']);
    assert.equal(job.artifacts?.when, 'always');
  });
});

describe('parsePipeline reports everything at once', () => {
  it('reports every problem of a file, sorted by position', () => {
    const errors = errorsOf(yml`
      stages: [build, test]
      build:
        stage: biuld
        scirpt: make
        timeout: 5 parsecs
      test:
        script: t
        needs: [nope]
        retry: 11
    `);
    assert.deepEqual(errors, [
      '2:1: job `build` has no `script`; add `script:` with the commands to run',
      '3:10: stage `biuld` of job `build` is not declared (declared stages: `build` and `test`); did you mean `build`?',
      '4:3: unknown key `scirpt` in job `build`; did you mean `script`?',
      '5:12: `timeout` must be a duration like 90s, 10m or 1h, not `5 parsecs` (in job `build`)',
      '8:11: `needs` of job `test` names `nope`, which is not a job in this file',
      '9:10: `retry` must be at most 10, not `11` (in job `test`)',
    ]);
  });

  it('formats diagnostics as file:line:column: message', () => {
    const result = parsePipeline('build:\n  scirpt: make\n', 'ci/.slipway.yml');
    assert.ok(!result.ok);
    assert.deepEqual(result.errors.map(formatDiagnostic), [
      'ci/.slipway.yml:1:1: job `build` has no `script`; add `script:` with the commands to run',
      'ci/.slipway.yml:2:3: unknown key `scirpt` in job `build`; did you mean `script`?',
    ]);
  });
});

describe('parsePipeline YAML problems', () => {
  it('rejects duplicate keys with the line of the first one', () => {
    assert.deepEqual(errorsOf('job:\n  script: a\n  script: b\n'), ['3:3: duplicate key `script`: it is already set at line 2; keep only one']);
  });

  it('lets explicit keys override merged ones without calling them duplicates', () => {
    assert.equal(parsePipeline('.t: &t\n  script: a\njob:\n  <<: *t\n  script: b\n', FILE).ok, true);
  });

  it('positions YAML syntax errors and cleans their message', () => {
    const errors = errorsOf('job:\n  script: [a, b\n  stage: test\n');
    assert.match(errors[0] ?? '', /^\d+:\d+: YAML syntax error: [a-z]/);
    assert.doesNotMatch(errors.join('\n'), /at line \d+, column/);
  });

  it('explains tabs and several documents', () => {
    assert.deepEqual(errorsOf('job:\n\tscript: a\n'), ['2:1: YAML syntax error: indent with spaces, not tabs']);
    assertError(errorsOf('job:\n  script: a\n---\nother: 1\n'), '3:1', /one YAML document; remove the `---` separator/);
  });

  it('reports undefined aliases and bad merge values', () => {
    const errors = errorsOf('job:\n  script: *nope\n  <<: [1]\n');
    assertError(errors, '2:11', /alias `\*nope` refers to no anchor/);
    assertError(errors, '3:8', /`<<` merges mappings/);
  });

  it('rejects GitLab `!reference` tags instead of reading them as lists', () => {
    assertError(errorsOf('.s:\n  script: [a]\njob:\n  script: !reference [.s, script]\n'), '4:11', /unknown YAML tag `!reference`/);
  });
});
