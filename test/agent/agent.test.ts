import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { isSlipwayError } from '../../src/errors/index.js';
import { runAgent } from '../../src/agent/index.js';
import { waitFor } from '../support/wait.js';
import { makeJob, memoryLogger, makeWorld, type World } from './helpers.js';

describe('the agent', () => {
  let world: World;
  beforeEach(async () => {
    world = await makeWorld();
  });
  afterEach(async () => {
    await world.close();
  });

  it('runs an assigned job and delivers its log and its result', async () => {
    world.peer.heartbeatMs = 50;
    const agent = world.startAgent({ labels: ['linux'] });
    const { attemptId } = await world.peer.assign({
      job: makeJob({ script: ['echo "hello from $GREETING"', 'cat README.md'] }),
      repository: world.repo.dir,
      commit: world.repo.commit,
      variables: { GREETING: 'the agent' },
    });
    const result = await world.peer.waitForResult(attemptId);
    assert.equal(result.status, 'success', agent.log.lines.join('\n'));
    assert.equal(result.exitCode, 0);
    const log = await world.peer.log(attemptId);
    assert.match(log, /hello from the agent/);
    assert.match(log, /^hello$/m);
    const hello = world.peer.hellos[0];
    assert.deepEqual(hello?.labels, ['linux']);
    assert.deepEqual(hello?.running, []);
    assert.deepEqual(world.peer.kinds.get(attemptId)?.[0], 'started');
    assert.deepEqual(world.peer.kinds.get(attemptId)?.at(-1), 'finished');
    // The slot comes back once `finished` is acknowledged, and the outbox is emptied.
    await waitFor('the slot to be free again', () => world.peer.readies.at(-1) === 1 && world.peer.readies.length >= 2);
    assert.deepEqual(await readdir(path.join(agent.workDir, 'outbox')), []);
    await waitFor('heartbeats at the interval welcome gave', () => world.peer.heartbeats >= 2);
    assert.deepEqual(world.peer.errors, []);
  });

  it('ends its running job when told to stop now and withholds its result, so the server counts the attempt lost', async () => {
    const stop = new AbortController();
    const agent = world.startAgent({ stopSignal: stop.signal });
    const { attemptId } = await world.peer.assign({
      job: makeJob({ script: ['echo running; sleep 1000'] }),
      repository: world.repo.dir,
      commit: world.repo.commit,
    });
    await waitFor('the job to run', async () => /^running$/m.test(await world.peer.log(attemptId)));
    stop.abort();
    await agent.done;
    assert.deepEqual(world.peer.byes, ['the agent is stopping now'], agent.log.lines.join('\n'));
    await waitFor('the reason in the job log', async () => /stopped by its engine/.test(await world.peer.log(attemptId)));
    assert.equal(world.peer.results.has(attemptId), false);
    assert.deepEqual(world.peer.kinds.get(attemptId)?.includes('finished'), false);
    assert.deepEqual(world.peer.errors, []);
  });

  it('stores every line of a 100,000-line log exactly once although the connection is cut twice mid-job', async () => {
    world.peer.cutAfterEvents = [10, 40];
    const agent = world.startAgent();
    const { attemptId } = await world.peer.assign({
      job: makeJob({ script: ['i=1; while [ $i -le 100000 ]; do echo "line $i"; i=$((i+1)); done'] }),
      repository: world.repo.dir,
      commit: world.repo.commit,
    });
    const result = await world.peer.waitForResult(attemptId, 30_000);
    assert.equal(result.status, 'success', agent.log.lines.join('\n'));
    assert.equal(world.peer.cuts, 2);
    assert.ok(world.peer.connections >= 3);
    const numbers = (await world.peer.log(attemptId)).split('\n').flatMap((line) => /^line (\d+)$/.exec(line)?.[1] ?? []);
    assert.equal(numbers.length, 100_000);
    numbers.forEach((n, index) => assert.equal(Number(n), index + 1));
    const resumed = world.peer.hellos.slice(1).map((hello) => hello.running.map((entry) => entry.attemptId));
    assert.ok(resumed.some((ids) => ids.includes(attemptId)), 'a reconnect lists the running attempt');
    assert.deepEqual(world.peer.errors, []);
  });

  it('keeps at most its window of unacknowledged event bytes in flight, and goes on as acks come', async () => {
    const windowBytes = 128 * 1024;
    world.peer.heartbeatMs = 50;
    world.peer.holdAcks = true;
    const agent = world.startAgent({ maxUnackedBytes: windowBytes });
    const { attemptId } = await world.peer.assign({
      job: makeJob({ script: ['(yes "a line of the window test" || true) | head -n 100000'] }),
      repository: world.repo.dir,
      commit: world.repo.commit,
    });
    const outbox = path.join(agent.workDir, 'outbox', `${attemptId}.events`);
    // The finished record's body is the result as JSON.
    await waitFor('the whole output in the outbox', async () => (await readFile(outbox, 'utf8').catch(() => '')).includes('"status":"success"'));
    const heartbeats = world.peer.heartbeats;
    // Heartbeats mark time passing: the agent had the chance to send more, and did not.
    await waitFor('two more heartbeats', () => world.peer.heartbeats >= heartbeats + 2);
    assert.ok(world.peer.eventBytesReceived > 0);
    assert.ok(world.peer.eventBytesReceived <= windowBytes, `${world.peer.eventBytesReceived} bytes sent unacknowledged`);

    world.peer.releaseAcks();
    const result = await world.peer.waitForResult(attemptId, 30_000);
    assert.equal(result.status, 'success', agent.log.lines.join('\n'));
    const lines = (await world.peer.log(attemptId)).split('\n').filter((line) => line === 'a line of the window test');
    assert.equal(lines.length, 100_000);
    assert.ok(world.peer.eventBytesReceived > 100_000 * 'a line of the window test\n'.length);
    assert.deepEqual(world.peer.errors, []);
  });

  it('uploads artifacts and downloads them for a later job with the attempt token', async () => {
    world.startAgent();
    const first = await world.peer.assign({
      job: makeJob({
        name: 'build',
        script: ['mkdir -p out', 'echo "built by build" > out/result.txt'],
        artifacts: { paths: ['out/'], exclude: [], expireInMs: null, when: 'on_success' },
      }),
      repository: world.repo.dir,
      commit: world.repo.commit,
    });
    const built = await world.peer.waitForResult(first.attemptId);
    assert.equal(built.status, 'success');
    assert.ok(built.artifacts !== null && built.artifacts.files >= 1);
    const second = await world.peer.assign({
      job: makeJob({ name: 'test', script: ['cat out/result.txt'] }),
      repository: world.repo.dir,
      commit: world.repo.commit,
      artifactsFrom: [{ job: 'build', attemptId: first.attemptId }],
    });
    assert.equal((await world.peer.waitForResult(second.attemptId)).status, 'success');
    assert.match(await world.peer.log(second.attemptId), /^built by build$/m);
    const requests = world.peer.fileRequests.map(({ method, path: url, authorized, status }) => `${method} ${url} ${authorized} ${status}`);
    assert.deepEqual(requests, [
      `PUT /api/v1/attempts/${first.attemptId}/artifacts true 204`,
      `GET /api/v1/attempts/${second.attemptId}/artifacts/${first.attemptId} true 200`,
    ]);
  });

  it('fails the job as a system failure, before any script, when the artifacts it needs are missing', async () => {
    world.startAgent();
    const { attemptId } = await world.peer.assign({
      job: makeJob({ name: 'test', script: ['echo never'] }),
      repository: world.repo.dir,
      commit: world.repo.commit,
      artifactsFrom: [{ job: 'build', attemptId: 999 }],
    });
    const result = await world.peer.waitForResult(attemptId);
    assert.equal(result.failure?.kind, 'system_failure');
    assert.match(result.failure.message, /^could not download the artifacts of "build": GET \S+\/artifacts\/999: HTTP 404$/);
    assert.doesNotMatch(await world.peer.log(attemptId), /^never$/m);
  });

  it('keeps caches on the server over HTTP: a miss first, then a hit', async () => {
    world.startAgent();
    const job = makeJob({
      script: ['if [ -f deps/cached.txt ]; then echo "cache hit: $(cat deps/cached.txt)"; else echo "cache miss"; fi', 'mkdir -p deps', 'echo v1 > deps/cached.txt'],
      cache: [{ key: 'deps/$CI_JOB_NAME', files: [], prefix: '', paths: ['deps/'], policy: 'pull-push', when: 'on_success' }],
      variables: { CI_JOB_NAME: 'test' },
    });
    const first = await world.peer.assign({ job, repository: world.repo.dir, commit: world.repo.commit });
    assert.equal((await world.peer.waitForResult(first.attemptId)).status, 'success');
    assert.match(await world.peer.log(first.attemptId), /^cache miss$/m);
    const second = await world.peer.assign({ job, repository: world.repo.dir, commit: world.repo.commit });
    assert.equal((await world.peer.waitForResult(second.attemptId)).status, 'success');
    assert.match(await world.peer.log(second.attemptId), /^cache hit: v1$/m);
    const requests = world.peer.fileRequests.map(({ method, path: url, status }) => `${method} ${url} ${status}`);
    assert.deepEqual(requests, [
      `GET /api/v1/attempts/${first.attemptId}/caches/deps%252Ftest 404`,
      `PUT /api/v1/attempts/${first.attemptId}/caches/deps%252Ftest 204`,
      `GET /api/v1/attempts/${second.attemptId}/caches/deps%252Ftest 200`,
      `PUT /api/v1/attempts/${second.attemptId}/caches/deps%252Ftest 204`,
    ]);
    assert.ok(world.peer.fileRequests.every((request) => request.authorized));
  });

  it('stops a job the server cancels and reports it canceled', async () => {
    world.startAgent();
    const { attemptId } = await world.peer.assign({
      job: makeJob({ script: ['echo going to sleep', 'sleep 60'] }),
      repository: world.repo.dir,
      commit: world.repo.commit,
    });
    await waitFor('the job to sleep', async () => /^going to sleep$/m.test(await world.peer.log(attemptId)));
    world.peer.cancel(attemptId);
    const result = await world.peer.waitForResult(attemptId);
    assert.equal(result.status, 'canceled');
    assert.equal(result.failure?.kind, 'canceled');
  });

  it('drops an attempt the server rejects and frees its slot', async () => {
    const agent = world.startAgent();
    const { attemptId } = await world.peer.assign({
      job: makeJob({ script: ['echo going to sleep', 'sleep 60'] }),
      repository: world.repo.dir,
      commit: world.repo.commit,
    });
    await waitFor('the job to sleep', async () => /^going to sleep$/m.test(await world.peer.log(attemptId)));
    const readies = world.peer.readies.length;
    world.peer.reject(attemptId);
    await waitFor('the slot to be free again', () => world.peer.readies.length > readies && world.peer.readies.at(-1) === 1);
    assert.deepEqual(await readdir(path.join(agent.workDir, 'outbox')), []);
    assert.equal(world.peer.results.has(attemptId), false);
    assert.ok(!world.peer.kinds.get(attemptId)?.includes('finished'));
  });

  it('fails with a clear error when the server refuses the agent token', async () => {
    const log = memoryLogger();
    await assert.rejects(
      runAgent({
        serverUrl: world.peer.url,
        token: 'not-the-token',
        name: 'intruder',
        labels: [],
        capacity: { cpus: 1, memoryMiB: 1024, jobs: 1 },
        workDir: path.join(world.dir, 'intruder'),
        maxJobs: 0,
        baseEnv: process.env,
        signal: new AbortController().signal,
        log,
      }),
      (error) => isSlipwayError(error, 'AGENT_UNAUTHORIZED') && /refused the agent token.*SLIPWAY_AGENT_TOKEN/.test(error.message),
    );
    assert.equal(world.peer.connections, 0);
  });

  it('stops when the server shuts down, saying bye', async () => {
    const agent = world.startAgent();
    await waitFor('the agent to be ready', () => world.peer.connected && world.peer.readies.length > 0);
    world.peer.shutdown('maintenance');
    await agent.done;
    assert.equal(world.peer.byes.length, 1);
    assert.match(world.peer.byes[0] ?? '', /maintenance/);
  });

  it('finishes its running job before it stops, then says bye', async () => {
    const agent = world.startAgent();
    const { attemptId } = await world.peer.assign({
      job: makeJob({ script: ['echo working', 'sleep 0.5', 'echo done working'] }),
      repository: world.repo.dir,
      commit: world.repo.commit,
    });
    await waitFor('the job to run', async () => /^working$/m.test(await world.peer.log(attemptId)));
    agent.stop();
    await agent.done;
    assert.equal(world.peer.results.get(attemptId)?.status, 'success');
    assert.match(await world.peer.log(attemptId), /^done working$/m);
    await waitFor('bye', () => world.peer.byes.length === 1);
    assert.equal(world.peer.readies.at(-1), 0);
  });
});
