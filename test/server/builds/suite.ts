import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createBuildController } from '../../../src/server/builds/index.js';
import { buildAssignment } from '../../../src/server/agents/assignment.js';
import { commitFiles, runGit } from '../../support/git-repo.js';
import { waitFor } from '../../support/wait.js';
import type { ApiTarget } from '../http/harness.js';
import { assign, jobsByName, projectWith, statuses, useWorld } from './harness.js';

const STAGES = `stages: [build, test]
compile:
  stage: build
  script: make
lint:
  stage: test
  needs: []
  script: lint
unit:
  stage: test
  script: test
`;

const fail = (exitCode: number) => ({ status: 'failed' as const, failure: { kind: 'script_failure' as const, exitCode, message: `exit status ${exitCode}` }, exitCode });
const success = { status: 'success' as const, failure: null, exitCode: 0 };

/** The build controller's behaviour, the same on every database. */
export function controllerSuite(target: ApiTarget): void {
  describe(`build controller on ${target.name}`, target.skip === undefined ? {} : { skip: target.skip }, () => {
    const world = useWorld(target);

    /** Assigns the build's job of this name to an agent, which reports it started; returns the attempt. */
    async function start(buildId: number, name: string): Promise<number> {
      const job = (await jobsByName(world.store, buildId)).get(name);
      assert.ok(job, name);
      const attemptId = await assign(world.store, job);
      await world.builds.attemptStarted(attemptId);
      return attemptId;
    }

    async function run(buildId: number, name: string, report: typeof success | ReturnType<typeof fail>): Promise<void> {
      await world.builds.attemptFinished({ attemptId: await start(buildId, name), ...report });
    }

    /** A started attempt of a new one-job build whose job prints nothing. */
    async function quietAttempt(): Promise<{ buildId: number; attemptId: number }> {
      const { project } = await projectWith(world, 'quiet:\n  script: x\n');
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: null, variables: {}, source: 'api' });
      return { buildId, attemptId: await start(buildId, 'quiet') };
    }

    it('creates a build through the API whose jobs follow the plan: needs start at once, stage order waits', async () => {
      const { project } = await projectWith(world, STAGES);
      const response = await world.call('POST', `/api/v1/projects/${project.name}/builds`, { variables: { GREETING: 'hi' } });
      assert.equal(response.statusCode, 201, response.body);
      const build = response.json<{ id: number; number: number; status: string; ref: string; source: string; jobs: Array<{ name: string; status: string }> }>();
      assert.equal(build.status, 'pending');
      assert.equal(build.ref, 'main');
      assert.equal(build.source, 'api');
      assert.deepEqual(Object.fromEntries(build.jobs.map((j) => [j.name, j.status])), { compile: 'pending', lint: 'pending', unit: 'created' });
      const listed = (await world.call('GET', `/api/v1/projects/${project.name}/builds?status=pending`)).json<{ items: Array<{ id: number }> }>();
      assert.deepEqual(listed.items.map((b) => b.id), [build.id]);
    });

    it('stores an invalid pipeline file as a build in state error with file:line:column messages', async () => {
      const { project } = await projectWith(world, 'job:\n  script: x\n  when: sometimes\n');
      const build = (await world.call('POST', `/api/v1/projects/${project.name}/builds`, {})).json<{ id: number; status: string; errors: Array<{ file: string; line: number; column: number; message: string }>; jobs: unknown[] }>();
      assert.equal(build.status, 'error');
      assert.equal(build.jobs.length, 0);
      assert.equal(build.errors[0]?.file, '.slipway.yml');
      assert.equal(build.errors[0]?.line, 3);
      assert.ok((build.errors[0]?.column ?? 0) > 0);
    });

    it('answers 404 for a ref the repository does not have, and starts no build', async () => {
      const { project } = await projectWith(world, STAGES);
      const response = await world.call('POST', `/api/v1/projects/${project.name}/builds`, { ref: 'no-such-branch' });
      assert.equal(response.statusCode, 404, response.body);
      assert.equal((await world.store.builds.list({ projectId: project.id })).items.length, 0);
    });

    it('queues the next stage when a job succeeds and finishes the build with success', async () => {
      const { project } = await projectWith(world, STAGES);
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: null, variables: {}, source: 'api' });
      await run(buildId, 'compile', success);
      assert.equal((await world.store.builds.get(buildId))?.status, 'running');
      assert.deepEqual(await statuses(world.store, buildId), { compile: 'success', lint: 'pending', unit: 'pending' });
      await run(buildId, 'lint', success);
      await run(buildId, 'unit', success);
      assert.equal((await world.store.builds.get(buildId))?.status, 'success');
    });

    it('skips what follows a failure and runs the on_failure jobs, then fails the build', async () => {
      const { project } = await projectWith(world, 'stages: [build, test, report]\ncompile:\n  stage: build\n  script: make\nunit:\n  stage: test\n  script: t\nnotify:\n  stage: report\n  when: on_failure\n  script: n\n');
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: null, variables: {}, source: 'api' });
      await run(buildId, 'compile', fail(2));
      assert.deepEqual(await statuses(world.store, buildId), { compile: 'failed', unit: 'skipped', notify: 'pending' });
      await run(buildId, 'notify', success);
      const build = await world.store.builds.get(buildId);
      assert.equal(build?.status, 'failed');
      assert.equal((await jobsByName(world.store, buildId)).get('compile')?.failure?.kind, 'script_failure');
    });

    it('retries a script failure as often as retry says, then fails the job', async () => {
      const { project } = await projectWith(world, 'job:\n  script: x\n  retry: { max: 1, when: script_failure }\n');
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: null, variables: {}, source: 'api' });
      await run(buildId, 'job', fail(1));
      const retried = (await jobsByName(world.store, buildId)).get('job');
      assert.equal(retried?.status, 'pending');
      assert.equal(retried?.attempts, 1);
      await run(buildId, 'job', fail(1));
      assert.equal((await jobsByName(world.store, buildId)).get('job')?.status, 'failed');
      assert.equal((await world.store.builds.get(buildId))?.status, 'failed');
    });

    it('lets a build pass when allow_failure covers the exit code, and not otherwise', async () => {
      const pipeline = 'stages: [a, b]\nflaky:\n  stage: a\n  script: x\n  allow_failure: { exit_codes: [3] }\nafter:\n  stage: b\n  script: y\n';
      const allowed = (await projectWith(world, pipeline)).project;
      const first = await world.builds.trigger({ projectId: allowed.id, ref: null, variables: {}, source: 'api' });
      await run(first.buildId, 'flaky', fail(3));
      assert.equal((await jobsByName(world.store, first.buildId)).get('after')?.status, 'pending');
      const job = (await world.call('GET', `/api/v1/jobs/${(await jobsByName(world.store, first.buildId)).get('flaky')?.id}`)).json<{ failureAllowed: boolean }>();
      assert.equal(job.failureAllowed, true);
      await run(first.buildId, 'after', success);
      assert.equal((await world.store.builds.get(first.buildId))?.status, 'success');

      const second = await world.builds.trigger({ projectId: allowed.id, ref: null, variables: {}, source: 'api' });
      await run(second.buildId, 'flaky', fail(4));
      assert.equal((await jobsByName(world.store, second.buildId)).get('after')?.status, 'skipped');
      assert.equal((await world.store.builds.get(second.buildId))?.status, 'failed');
    });

    it('retries a job whose agent was lost when retry allows agent_lost, and fails it with "agent lost" otherwise', async () => {
      const { project } = await projectWith(world, 'kept:\n  script: x\n  retry: { max: 1, when: agent_lost }\nplain:\n  script: y\n');
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: null, variables: {}, source: 'api' });
      const jobs = await jobsByName(world.store, buildId);
      const kept = await assign(world.store, jobs.get('kept')!);
      const plain = await assign(world.store, jobs.get('plain')!);
      await world.builds.attemptLost(kept);
      await world.builds.attemptLost(plain);
      await world.builds.attemptLost(plain); // a second report of the same loss changes nothing
      const after = await jobsByName(world.store, buildId);
      assert.equal(after.get('kept')?.status, 'pending');
      assert.equal(after.get('plain')?.status, 'failed');
      assert.deepEqual(after.get('plain')?.failure, { kind: 'agent_lost', message: 'agent lost' });
    });

    it('cancels a build: waiting jobs at once, a running job when its attempt reports, then the build', async () => {
      const { project } = await projectWith(world, STAGES);
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: null, variables: {}, source: 'api' });
      const attemptId = await start(buildId, 'compile');
      const told: number[] = [];
      const stop = world.builds.onCancelAttempt((id) => told.push(id));
      const response = await world.call('POST', `/api/v1/builds/${buildId}/cancel`);
      stop();
      assert.equal(response.statusCode, 200, response.body);
      assert.deepEqual(told, [attemptId]);
      assert.deepEqual(await statuses(world.store, buildId), { compile: 'running', lint: 'canceled', unit: 'canceled' });
      await world.builds.attemptFinished({ attemptId, ...fail(143) });
      assert.equal((await jobsByName(world.store, buildId)).get('compile')?.status, 'canceled');
      assert.equal((await world.store.builds.get(buildId))?.status, 'canceled');
    });

    it('ends a job canceled when its attempt reports to a server restarted after it acknowledged the cancel', async () => {
      const { project } = await projectWith(world, STAGES);
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: null, variables: {}, source: 'api' });
      const compile = await start(buildId, 'compile');
      const lint = await start(buildId, 'lint');
      assert.equal((await world.call('POST', `/api/v1/builds/${buildId}/cancel`)).statusCode, 200);
      // What a new process finds: the store only, no memory of the cancel.
      const restarted = createBuildController({ store: world.store, events: world.events, git: world.git, config: world.config, now: () => world.clock.now });
      await restarted.attemptFinished({ attemptId: compile, ...fail(143) });
      await restarted.attemptLost(lint);
      assert.deepEqual(await statuses(world.store, buildId), { compile: 'canceled', lint: 'canceled', unit: 'canceled' });
      assert.equal((await world.store.builds.get(buildId))?.status, 'canceled');
      assert.equal((await world.store.attempts.get(compile))?.cancelReason, 'the build was canceled');
    });

    it('retries a failed job and gives the jobs it held back another chance', async () => {
      const { project } = await projectWith(world, STAGES);
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: null, variables: {}, source: 'api' });
      await run(buildId, 'lint', success);
      await run(buildId, 'compile', fail(1));
      assert.equal((await world.store.builds.get(buildId))?.status, 'failed');
      const compile = (await jobsByName(world.store, buildId)).get('compile')!;
      assert.equal((await world.call('POST', `/api/v1/jobs/${compile.id}/retry`)).statusCode, 200);
      assert.deepEqual(await statuses(world.store, buildId), { compile: 'pending', lint: 'success', unit: 'created' });
      assert.equal((await world.store.builds.get(buildId))?.status, 'running');
      await run(buildId, 'compile', success);
      await run(buildId, 'unit', success);
      assert.equal((await world.store.builds.get(buildId))?.status, 'success');
      assert.equal((await jobsByName(world.store, buildId)).get('compile')?.attempts, 2);
    });

    it('starts a manual job when played, and a retried build is a new build of the same commit', async () => {
      const { project } = await projectWith(world, 'build:\n  script: x\ndeploy:\n  script: y\n  when: manual\n  allow_failure: false\n  needs: [build]\n');
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: null, variables: { A: '1' }, source: 'api' });
      await run(buildId, 'build', success);
      const deploy = (await jobsByName(world.store, buildId)).get('deploy')!;
      assert.equal(deploy.status, 'manual');
      assert.equal((await world.call('POST', `/api/v1/jobs/${deploy.id}/play`)).statusCode, 200);
      assert.equal((await jobsByName(world.store, buildId)).get('deploy')?.status, 'pending');
      assert.equal((await world.call('POST', `/api/v1/jobs/${deploy.id}/play`)).statusCode, 409);

      const retried = await world.call('POST', `/api/v1/builds/${buildId}/retry`);
      assert.equal(retried.statusCode, 201, retried.body);
      const original = await world.store.builds.get(buildId);
      const copy = retried.json<{ id: number; commitSha: string; source: string; variables: Record<string, string> }>();
      assert.notEqual(copy.id, buildId);
      assert.equal(copy.commitSha, original?.commitSha);
      assert.equal(copy.source, 'retry');
      assert.deepEqual(copy.variables, { A: '1' });
    });

    it('queues a delayed job once its start_in has passed, on tick', async () => {
      const { project } = await projectWith(world, 'later:\n  script: x\n  when: delayed\n  start_in: 10 minutes\n');
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: null, variables: {}, source: 'api' });
      const job = (await jobsByName(world.store, buildId)).get('later')!;
      assert.equal(job.status, 'scheduled');
      assert.equal(job.notBefore, world.clock.now + 600_000);
      await world.builds.tick(world.clock.now + 599_999);
      assert.equal((await world.store.jobs.get(job.id))?.status, 'scheduled');
      await world.builds.tick(world.clock.now + 600_000);
      assert.equal((await world.store.jobs.get(job.id))?.status, 'pending');
    });

    it('evaluates changes: rules against the pushed commit', async () => {
      const pipeline = 'docs:\n  script: d\n  rules:\n    - changes: [docs/**]\ncode:\n  script: c\n  rules:\n    - changes: [src/**]\n';
      const { project, repo } = await projectWith(world, pipeline);
      const sha = await commitFiles(repo, { 'src/a.ts': 'x' }, 'code only');
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: 'main', variables: {}, source: 'api' });
      assert.deepEqual(Object.keys(await statuses(world.store, buildId)), ['code']);
      assert.equal((await world.store.builds.get(buildId))?.commitSha, sha);
    });

    it('finishes a build at once when the workflow rules do not run it, saying why', async () => {
      const { project } = await projectWith(world, 'workflow:\n  rules:\n    - if: $CI_COMMIT_BRANCH == "release"\njob:\n  script: x\n');
      const build = (await world.call('POST', `/api/v1/projects/${project.name}/builds`, {})).json<{ status: string; reason: string | null }>();
      assert.equal(build.status, 'skipped');
      assert.match(build.reason ?? '', /workflow/);
    });

    it('tells the event bus every transition after it commits', async () => {
      const { project } = await projectWith(world, STAGES);
      const from = await world.store.events.latestId();
      const { buildId } = await world.builds.trigger({ projectId: project.id, ref: null, variables: {}, source: 'api' });
      const seen = await waitFor('the build events', async () => {
        const list = await world.store.events.listAfter(from, 100);
        return list.length >= 4 ? list : undefined;
      });
      assert.deepEqual(seen.slice(0, 4).map((e) => e.type), ['build.created', 'job.updated', 'job.updated', 'build.updated']);
      assert.equal((seen[0]?.payload as { buildId: number }).buildId, buildId);
    });

    it('gives a tag build CI_COMMIT_TAG and no CI_COMMIT_BRANCH, a branch build the reverse, with the commit it built', async () => {
      const { project, repo } = await projectWith(world, 'job:\n  script: x\n');
      const before = (await world.git.resolveRef(repo, 'main')).sha;
      runGit(repo, ['commit', '-q', '--allow-empty', '--date=2024-05-06T07:08:09+02:00', '-m', 'Release 1.0\n\nWith notes']);
      const sha = runGit(repo, ['rev-parse', 'HEAD']).trim();
      runGit(repo, ['tag', 'v1.0']);

      const variablesOf = async (buildId: number) => {
        const job = (await jobsByName(world.store, buildId)).get('job')!;
        const attempt = (await world.store.attempts.get(await assign(world.store, job)))!;
        const assignment = await buildAssignment({ store: world.store, secretsKey: world.key, publicUrl: 'http://127.0.0.1:1' }, job, attempt, 'token');
        return assignment.variables;
      };
      const tag = await world.builds.trigger({ projectId: project.id, ref: 'refs/tags/v1.0', variables: {}, source: 'api' });
      const tagVars = await variablesOf(tag.buildId);
      assert.equal(tagVars.CI_COMMIT_TAG, 'v1.0');
      assert.equal(tagVars.CI_COMMIT_BRANCH, undefined);
      assert.equal(tagVars.CI_COMMIT_REF_NAME, 'v1.0');
      assert.equal(tagVars.CI_COMMIT_TIMESTAMP, '2024-05-06T05:08:09Z');
      assert.equal(tagVars.CI_COMMIT_MESSAGE, 'Release 1.0\n\nWith notes');
      assert.equal(tagVars.CI_COMMIT_TITLE, 'Release 1.0');
      assert.equal(tagVars.CI_COMMIT_AUTHOR, 'Slipway Test <test@slipway.invalid>');

      const push = await world.builds.trigger({ projectId: project.id, ref: 'refs/heads/main', commitSha: sha, beforeSha: before, variables: {}, source: 'webhook' });
      const branchVars = await variablesOf(push.buildId);
      assert.equal(branchVars.CI_COMMIT_BRANCH, 'main');
      assert.equal(branchVars.CI_COMMIT_TAG, undefined);
      assert.equal(branchVars.CI_COMMIT_BEFORE_SHA, before);
      assert.equal(branchVars.CI_COMMIT_TIMESTAMP, '2024-05-06T05:08:09Z');

      const view = (await world.call('GET', `/api/v1/builds/${tag.buildId}`)).json<Record<string, unknown>>();
      assert.deepEqual(
        { ref: view.ref, refKind: view.refKind, commitMessage: view.commitMessage, commitAuthor: view.commitAuthor, commitTimestamp: view.commitTimestamp, beforeSha: view.beforeSha },
        { ref: 'v1.0', refKind: 'tag', commitMessage: 'Release 1.0\n\nWith notes', commitAuthor: 'Slipway Test <test@slipway.invalid>', commitTimestamp: Date.parse('2024-05-06T05:08:09Z'), beforeSha: null },
      );
      assert.equal((await world.store.builds.get(push.buildId))?.beforeSha, before);

      // A branch named like the tag appears: a retry of the tag build still builds the tag.
      runGit(repo, ['branch', 'v1.0', before]);
      const retried = await world.builds.retryBuild(tag.buildId);
      const again = await world.store.builds.get(retried.buildId);
      assert.deepEqual({ ref: again?.ref, refKind: again?.refKind, commitSha: again?.commitSha }, { ref: 'v1.0', refKind: 'tag', commitSha: sha });
      const commit = await world.builds.trigger({ projectId: project.id, ref: sha.slice(0, 12), variables: {}, source: 'api' });
      const commitVars = await variablesOf(commit.buildId);
      assert.equal((await world.store.builds.get(commit.buildId))?.refKind, 'commit');
      assert.deepEqual([commitVars.CI_COMMIT_TAG, commitVars.CI_COMMIT_BRANCH], [undefined, undefined]);
    });

    it('fails a running job with no stored output for noProgressTimeoutMs as a system failure, counting from its last progress', async () => {
      const limit = world.config.agents.noProgressTimeoutMs;
      const { buildId, attemptId } = await quietAttempt();
      const startedAt = world.clock.now;
      world.clock.now = startedAt + limit - 60_000;
      assert.equal(await world.store.attempts.setLogSeq(attemptId, 1), true);
      const progressAt = world.clock.now;
      const told: Array<{ id: number; reason: string }> = [];
      const stop = world.builds.onCancelAttempt((id, reason) => told.push({ id, reason }));
      try {
        await world.builds.tick(startedAt + limit + 60_000);
        await world.builds.tick(progressAt + limit);
        assert.equal((await world.store.jobs.get((await world.store.attempts.get(attemptId))!.jobId))?.status, 'running', 'output moves the deadline on');
        await world.builds.tick(progressAt + limit + 1);
      } finally {
        stop();
      }
      const job = (await jobsByName(world.store, buildId)).get('quiet')!;
      assert.equal(job.status, 'failed');
      assert.equal(job.failure?.kind, 'system_failure');
      assert.match(job.failure?.message ?? '', new RegExp(`^no progress for ${Math.round(limit / 60_000)} minutes`));
      // Attempts other tests left running are stopped too; this one exactly once.
      assert.equal(told.filter((t) => t.id === attemptId).length, 1, 'the agent is told to stop the attempt');
      assert.equal((await world.store.builds.get(buildId))?.status, 'failed');
    });

    it('starts the no-progress clock again at its own start when a controller takes over running attempts', async () => {
      const limit = world.config.agents.noProgressTimeoutMs;
      const { attemptId } = await quietAttempt();
      // The server was down for two limits: no agent could report in that time.
      world.clock.now += 2 * limit;
      const restarted = createBuildController({ store: world.store, events: world.events, git: world.git, config: world.config, now: () => world.clock.now });
      const bootAt = world.clock.now;
      await restarted.tick(bootAt + limit);
      assert.equal((await world.store.attempts.get(attemptId))?.status, 'running');
      await restarted.tick(bootAt + limit + 1);
      assert.equal((await world.store.attempts.get(attemptId))?.status, 'failed');
    });
  });
}
