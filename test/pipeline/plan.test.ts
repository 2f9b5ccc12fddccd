import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic, planPipeline } from '../../src/pipeline/index.js';
import { FILE, PUSH_TO_MAIN, context, jobOf, namesOf, outcomeOf, parseOk, planOf, yml } from './helpers.js';

const REALISTIC = yml`
  variables:
    NODE_ENV: production
    PYTHON: 3.10

  stages: [build, test, deploy]

  .node: &node
    image: node:20
    before_script:
      - npm ci

  .retry: &retry
    retry: { max: 2, when: [agent_lost, system_failure] }

  default:
    labels: [linux]
    timeout: 30m
    retry: 1

  build:
    <<: [*node, *retry]
    stage: build
    script: npm run build
    artifacts:
      paths: [dist/]
      expire_in: 1 week

  .test:
    stage: test
    variables:
      DB_HOST: localhost
    resources: { cpus: 2, memory: 2Gi }

  test:
    extends: .test
    needs: [build]
    script:
      - npm test
      - [echo one, echo two]
    parallel:
      matrix:
        - node: [18, 20]
          db: [pg, mysql]
    variables:
      DB_NAME: app
  lint:
    stage: test
    labels: [linux, small, linux]
    script: npm run lint
    parallel: 3
    needs: []
  docs:
    script: make docs
    dependencies: []
  deploy:
    stage: deploy
    image: alpine
    script: ./deploy.sh
    environment: { name: production, url: https://example.com }
    dependencies: [build]
`;

describe('planPipeline on a realistic file', () => {
  const plan = planOf(REALISTIC);

  it('keeps the declared stages that hold jobs, in order', () => {
    assert.deepEqual(plan.stages, ['build', 'test', 'deploy']);
  });

  it('orders jobs by stage, then file order, expanding parallel and matrix in place', () => {
    assert.deepEqual(namesOf(plan), [
      'build',
      'test: [node=18, db=pg]',
      'test: [node=18, db=mysql]',
      'test: [node=20, db=pg]',
      'test: [node=20, db=mysql]',
      'lint 1/3',
      'lint 2/3',
      'lint 3/3',
      'docs',
      'deploy',
    ]);
  });

  it('merges anchors with `<<: [*a, *b]` and applies `default:` where the job is silent', () => {
    const build = jobOf(plan, 'build');
    assert.equal(build.image, 'node:20');
    assert.deepEqual(build.beforeScript, ['npm ci']);
    assert.deepEqual(build.retry, { max: 2, when: ['agent_lost', 'system_failure'] });
    assert.deepEqual(build.labels, ['linux']);
    assert.equal(build.timeoutMs, 30 * 60_000);
    assert.deepEqual(build.artifacts, { paths: ['dist/'], exclude: [], expireInMs: 7 * 24 * 3600_000, when: 'on_success', name: null });
    assert.deepEqual(build.position, { file: FILE, line: 20, column: 1 });
  });

  it('gives matrix jobs their values as variables, after pipeline, template and job variables', () => {
    const job = jobOf(plan, 'test: [node=20, db=mysql]');
    assert.equal(job.definitionName, 'test');
    assert.equal(job.stage, 'test');
    assert.deepEqual(job.matrix, { node: '20', db: 'mysql' });
    assert.deepEqual(job.variables, { NODE_ENV: 'production', PYTHON: '3.10', DB_HOST: 'localhost', DB_NAME: 'app', node: '20', db: 'mysql' });
    assert.deepEqual(job.script, ['npm test', 'echo one', 'echo two']);
    assert.deepEqual(job.resources, { cpus: 2, memoryMiB: 2048 });
    assert.deepEqual(job.retry, { max: 1, when: ['always'] });
    assert.equal(job.parallel, null);
  });

  it('names `parallel: N` copies `name i/N` and removes duplicate labels', () => {
    const lint = jobOf(plan, 'lint 2/3');
    assert.deepEqual(lint.parallel, { index: 2, total: 3 });
    assert.deepEqual(lint.labels, ['linux', 'small']);
    assert.deepEqual(lint.needs, []);
    assert.deepEqual(lint.artifactsFrom, []);
  });

  it('gives needs edges, and stage edges from every job of earlier stages', () => {
    const needsEdges = plan.edges.filter((e) => e.kind === 'needs');
    assert.deepEqual(needsEdges.map((e) => `${e.from} -> ${e.to}`), [
      'build -> test: [node=18, db=pg]',
      'build -> test: [node=18, db=mysql]',
      'build -> test: [node=20, db=pg]',
      'build -> test: [node=20, db=mysql]',
    ]);
    assert.deepEqual(plan.edges.filter((e) => e.to === 'docs').map((e) => `${e.from}:${e.kind}`), ['build:stage']);
    const intoDeploy = plan.edges.filter((e) => e.to === 'deploy');
    assert.equal(intoDeploy.length, 9);
    assert.ok(intoDeploy.every((e) => e.kind === 'stage'));
    assert.equal(plan.edges.some((e) => e.to.startsWith('lint')), false, '`needs: []` starts at once');
  });

  it('takes artifacts from needs, or from earlier stages narrowed by `dependencies`', () => {
    assert.deepEqual(jobOf(plan, 'test: [node=18, db=pg]').artifactsFrom, ['build']);
    assert.deepEqual(jobOf(plan, 'docs').artifactsFrom, []);
    assert.deepEqual(jobOf(plan, 'deploy').artifactsFrom, ['build']);
    assert.deepEqual(jobOf(plan, 'deploy').environment, { name: 'production', url: 'https://example.com', action: 'start' });
  });

  it('returns the pipeline variables as written, numbers included', () => {
    assert.deepEqual(plan.variables, { NODE_ENV: 'production', PYTHON: '3.10' });
  });

  it('describes the definition: all stages with .pre and .post, and visible jobs in file order', () => {
    const def = parseOk(REALISTIC);
    assert.deepEqual(def.stages, ['.pre', 'build', 'test', 'deploy', '.post']);
    assert.deepEqual(def.jobNames, ['build', 'test', 'lint', 'docs', 'deploy']);
    assert.equal(def.file, FILE);
  });

  it('plans the same definition twice without one plan changing the other', () => {
    const def = parseOk(REALISTIC);
    const first = planPipeline(def, PUSH_TO_MAIN);
    assert.ok(first.ok && first.value.run);
    first.value.plan.jobs[0]?.script.push('rm -rf /');
    const second = planPipeline(def, PUSH_TO_MAIN);
    assert.ok(second.ok && second.value.run);
    assert.deepEqual(second.value.plan.jobs[0]?.script, ['npm run build']);
  });
});

describe('planPipeline stages and needs', () => {
  it('runs .pre first and .post last, and lists only stages that hold jobs', () => {
    const plan = planOf(yml`
      stages: [build, test, deploy]
      cleanup:
        stage: .post
        script: clean
      prepare:
        stage: .pre
        script: prepare
      build:
        stage: build
        script: make
    `);
    assert.deepEqual(plan.stages, ['.pre', 'build', '.post']);
    assert.deepEqual(namesOf(plan), ['prepare', 'build', 'cleanup']);
    assert.deepEqual(plan.edges.filter((e) => e.to === 'cleanup').map((e) => e.from), ['prepare', 'build']);
  });

  it('uses build, test and deploy when `stages` is not given, and `test` as the default stage', () => {
    const def = parseOk('job:\n  script: x\n');
    assert.deepEqual(def.stages, ['.pre', 'build', 'test', 'deploy', '.post']);
    assert.equal(planOf('job:\n  script: x\n').jobs[0]?.stage, 'test');
  });

  it('expands a need on a matrix job to every copy, and a matrix need to the copies it selects', () => {
    const plan = planOf(yml`
      test:
        stage: build
        script: t
        parallel:
          matrix:
            - OS: [linux, mac]
              NODE: [18, 20]
      all:
        script: a
        needs: [test]
      some:
        script: s
        needs:
          - job: test
            artifacts: false
            parallel:
              matrix:
                - OS: mac
                  NODE: [20]
    `);
    assert.deepEqual(jobOf(plan, 'all').needs?.map((n) => n.job), [
      'test: [OS=linux, NODE=18]',
      'test: [OS=linux, NODE=20]',
      'test: [OS=mac, NODE=18]',
      'test: [OS=mac, NODE=20]',
    ]);
    assert.deepEqual(jobOf(plan, 'some').needs, [{ job: 'test: [OS=mac, NODE=20]', artifacts: false }]);
    assert.deepEqual(jobOf(plan, 'some').artifactsFrom, []);
  });

  it('accepts a need on one expanded name', () => {
    const plan = planOf(yml`
      shard:
        stage: build
        script: s
        parallel: 2
      after:
        script: a
        needs: ['shard 2/2']
    `);
    assert.deepEqual(jobOf(plan, 'after').needs, [{ job: 'shard 2/2', artifacts: true }]);
  });

  /** `docs` runs only for tags, so a push to main excludes it; `test` needs it. */
  const needsExcludedDocs = (needs: string): string => `docs:\n  stage: build\n  script: d\n  rules:\n    - if: $CI_COMMIT_TAG\ntest:\n  script: t\n  needs: ${needs}\n`;

  it('drops an optional need on a job the rules excluded', () => {
    const plan = planOf(needsExcludedDocs('[{ job: docs, optional: true }]'));
    assert.deepEqual(namesOf(plan), ['test']);
    assert.deepEqual(jobOf(plan, 'test').needs, []);
  });

  it('reports a need on a job the rules excluded at the need', () => {
    const result = planPipeline(parseOk(needsExcludedDocs('[docs]')), PUSH_TO_MAIN);
    assert.ok(!result.ok);
    assert.deepEqual(result.errors.map(formatDiagnostic), [
      `${FILE}:8:11: job \`test\` needs \`docs\`, which the rules excluded from this pipeline; add \`optional: true\` to the need or change the rules`,
    ]);
  });

  it('narrows artifacts of a job with needs to its `dependencies`', () => {
    const plan = planOf(yml`
      a:
        stage: build
        script: a
      b:
        stage: build
        script: b
      c:
        script: c
        needs: [a, b]
        dependencies: [b]
    `);
    assert.deepEqual(jobOf(plan, 'c').artifactsFrom, ['b']);
  });

  it('lets a job need a job of its own stage', () => {
    const plan = planOf(yml`
      a:
        script: a
      b:
        script: b
        needs: [a]
    `);
    assert.deepEqual(plan.edges, [{ from: 'a', to: 'b', kind: 'needs' }]);
  });

  it('does not run a pipeline of only .pre and .post jobs', () => {
    const outcome = outcomeOf('a:\n  stage: .pre\n  script: a\n');
    assert.ok(!outcome.run && /only `.pre` and `.post` jobs/.test(outcome.reason));
  });
});

describe('planPipeline job settings', () => {
  it('merges variables: pipeline, job, matrix, then rule', () => {
    const plan = planOf(yml`
      variables: { A: pipeline, B: pipeline, C: pipeline, D: pipeline }
      job:
        script: x
        variables: { B: job, C: job, D: job }
        parallel:
          matrix:
            - C: matrix
              D: matrix
        rules:
          - variables: { D: rule }
    `);
    assert.deepEqual(jobOf(plan, 'job: [C=matrix, D=matrix]').variables, { A: 'pipeline', B: 'job', C: 'matrix', D: 'rule' });
  });

  it('keeps numbers and booleans as written in variables', () => {
    const plan = planOf(yml`
      variables:
        VERSION: 1.10
        COUNT: 007
        DEBUG: true
        EMPTY:
        DESCRIBED: { value: 42, description: The answer }
      job: { script: x }
    `);
    assert.deepEqual(plan.variables, { VERSION: '1.10', COUNT: '007', DEBUG: 'true', EMPTY: '', DESCRIBED: '42' });
  });

  it('follows `inherit:` for defaults and pipeline variables', () => {
    const plan = planOf(yml`
      variables: { A: a, B: b }
      default:
        image: ruby:3
        timeout: 5m
      none:
        script: x
        inherit: { default: false, variables: false }
      some:
        script: x
        inherit: { default: [timeout], variables: [B] }
    `);
    assert.equal(jobOf(plan, 'none').image, null);
    assert.equal(jobOf(plan, 'none').timeoutMs, 3600_000);
    assert.deepEqual(jobOf(plan, 'none').variables, {});
    assert.equal(jobOf(plan, 'some').image, null);
    assert.equal(jobOf(plan, 'some').timeoutMs, 5 * 60_000);
    assert.deepEqual(jobOf(plan, 'some').variables, { B: 'b' });
  });

  it('applies the documented defaults to a job with only a script', () => {
    const job = jobOf(planOf('job:\n  script: make\n'), 'job');
    assert.deepEqual(job, {
      name: 'job', definitionName: 'job', stage: 'test', needs: null, artifactsFrom: [],
      beforeScript: [], script: ['make'], afterScript: [], variables: {},
      image: null, imageEntrypoint: null, labels: [], services: [], resources: { cpus: null, memoryMiB: null },
      timeoutMs: 3600_000, retry: { max: 0, when: ['always'] }, allowFailure: false, when: 'on_success', startInMs: null,
      artifacts: null, cache: [], environment: null, deploy: null, interruptible: false, coverage: null,
      matrix: null, parallel: null, position: { file: FILE, line: 1, column: 1 },
    });
  });

  it('normalizes every long form: image, services, retry, allow_failure, cache, deploy', () => {
    const job = jobOf(planOf(yml`
      job:
        script: x
        image: { name: 'node:20', entrypoint: [''] }
        tags: [docker, docker]
        services:
          - postgres:15
          - name: redis:7
            alias: cache
            command: [redis-server, --appendonly, 'yes']
            variables: { PORT: 6379 }
        resources: { cpus: 0.5, memory: 512Mi }
        timeout: 1h 30m
        retry: { max: 2, when: script_failure }
        allow_failure: { exit_codes: 3 }
        when: delayed
        start_in: 10 minutes
        cache:
          - key: deps-$CI_COMMIT_REF_SLUG
            paths: [node_modules/]
            policy: pull
          - key: { files: [package-lock.json] }
            paths: [.npm/]
            when: always
        artifacts:
          paths: [out/]
          exclude: [out/tmp/**]
          expire_in: never
          when: always
          name: output
        environment: staging
        interruptible: true
        coverage: '/Lines: (\\d+)%/'
        deploy:
          app: web
          image: registry.local/web:latest
          port: 8080
          env: { MODE: prod, WORKERS: 4 }
          health_check: { path: /health, interval: 5s }
          resources: { memory: 1G }
    `), 'job');
    assert.equal(job.image, 'node:20');
    assert.deepEqual(job.imageEntrypoint, ['']);
    assert.deepEqual(job.labels, ['docker']);
    assert.deepEqual(job.services, [
      { image: 'postgres:15', alias: null, entrypoint: null, command: null, variables: {} },
      { image: 'redis:7', alias: 'cache', entrypoint: null, command: ['redis-server', '--appendonly', 'yes'], variables: { PORT: '6379' } },
    ]);
    assert.deepEqual(job.resources, { cpus: 0.5, memoryMiB: 512 });
    assert.equal(job.timeoutMs, 90 * 60_000);
    assert.deepEqual(job.retry, { max: 2, when: ['script_failure'] });
    assert.deepEqual(job.allowFailure, { exitCodes: [3] });
    assert.equal(job.when, 'delayed');
    assert.equal(job.startInMs, 10 * 60_000);
    assert.deepEqual(job.cache, [
      { key: 'deps-$CI_COMMIT_REF_SLUG', files: [], prefix: '', paths: ['node_modules/'], policy: 'pull', when: 'on_success' },
      { key: '', files: ['package-lock.json'], prefix: '', paths: ['.npm/'], policy: 'pull-push', when: 'always' },
    ]);
    assert.deepEqual(job.artifacts, { paths: ['out/'], exclude: ['out/tmp/**'], expireInMs: null, when: 'always', name: 'output' });
    assert.deepEqual(job.environment, { name: 'staging', url: null, action: 'start' });
    assert.equal(job.interruptible, true);
    assert.equal(job.coverage, '/Lines: (\\d+)%/');
    assert.deepEqual(job.deploy, {
      app: 'web',
      image: 'registry.local/web:latest',
      instances: 1,
      port: 8080,
      env: { MODE: 'prod', WORKERS: '4' },
      healthCheck: { path: '/health', intervalMs: 5000, timeoutMs: 5000 },
      resources: { cpus: null, memoryMiB: 954 },
    });
  });

  it('reads `allow_failure: true` as any exit code and a plain retry count as `when: always`', () => {
    const job = jobOf(planOf('job:\n  script: x\n  allow_failure: true\n  retry: 2\n'), 'job');
    assert.deepEqual(job.allowFailure, { exitCodes: null });
    assert.deepEqual(job.retry, { max: 2, when: ['always'] });
  });

  it('lets a job made manual by its own `when` fail by default, unless it says otherwise', () => {
    const plan = planOf(yml`
      manual:
        script: x
        when: manual
      strict:
        script: x
        when: manual
        allow_failure: false
      rule-without-when:
        script: x
        when: manual
        rules:
          - if: $CI_COMMIT_BRANCH
      by-rule:
        script: x
        rules:
          - when: manual
      manual-by-rule-too:
        script: x
        when: manual
        rules:
          - when: manual
      rule-allows:
        script: x
        rules:
          - when: manual
            allow_failure: { exit_codes: [2] }
    `);
    assert.deepEqual(jobOf(plan, 'manual').allowFailure, { exitCodes: null });
    assert.equal(jobOf(plan, 'strict').allowFailure, false);
    assert.deepEqual(jobOf(plan, 'rule-without-when').allowFailure, { exitCodes: null });
    assert.equal(jobOf(plan, 'by-rule').allowFailure, false);
    assert.equal(jobOf(plan, 'manual-by-rule-too').allowFailure, false);
    assert.deepEqual(jobOf(plan, 'rule-allows').allowFailure, { exitCodes: [2] });
  });

  it('refuses a definition it did not make', () => {
    const result = planPipeline({ file: 'x.yml', stages: [], variables: {}, jobNames: [], internal: {} }, context());
    assert.ok(!result.ok);
    assert.deepEqual(result.errors.map(formatDiagnostic), ['x.yml:1:1: this pipeline definition was not made by parsePipeline']);
  });
});
