import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { docker, dockerSuiteOptions, TEST_REGISTRY } from '../engines/docker-support.js';
import { waitFor } from '../support/wait.js';
import { finished, type BuildView, type JobView } from './scene.js';
import { dockerEngine, openDockerScene, pipelineFile, PRINT_TASK, taskOf, template, type DockerScene } from './docker-scene.js';

const { address: REGISTRY, username: REGISTRY_USER, password: REGISTRY_PASSWORD } = TEST_REGISTRY;

const options = await dockerSuiteOptions('docker end-to-end tests');

const isFinished = (build: BuildView): boolean => finished.includes(build.status);

function jobNamed(build: BuildView, name: string): JobView {
  const job = build.jobs.find((candidate) => candidate.name === name);
  assert.ok(job !== undefined, `build ${build.id} has no job ${name}: ${JSON.stringify(build.jobs)}`);
  return job;
}

async function withDockerScene(config: (dir: string) => string, fn: (scene: DockerScene) => Promise<void>): Promise<void> {
  const scene = await openDockerScene({ config });
  try {
    await fn(scene);
  } finally {
    await scene.close().catch((error: unknown) => {
      const inner = error instanceof AggregateError ? error.errors.map((cause: unknown) => (cause instanceof Error ? cause.message : String(cause))).join('\n') : '';
      throw new Error(`${(error as Error).message}: ${inner}`, { cause: error });
    });
  }
}

/** Runs one build of a new project to its end; fails with the jobs' logs unless it ends as expected. */
async function runBuild(s: DockerScene, files: Record<string, string>, expected = 'success', deadlineMs = 120_000): Promise<BuildView> {
  const { name } = await s.project(files);
  const build = await s.waitForBuild((await s.trigger(name)).id, isFinished, `the build of ${name} to finish`, deadlineMs);
  if (build.status !== expected) {
    const logs = await Promise.all(build.jobs.map(async (job) => `--- ${job.name} (${job.status}, ${JSON.stringify(job.failure)}):\n${await s.logRaw(job.id)}`));
    assert.fail(`the build ended ${build.status}, not ${expected}:\n${logs.join('\n')}\n--- server:\n${s.server.output()}`);
  }
  return build;
}

async function registryTags(repository: string): Promise<string[]> {
  const response = await fetch(`http://${REGISTRY}/v2/${repository}/tags/list`, {
    headers: { authorization: `Basic ${Buffer.from(`${REGISTRY_USER}:${REGISTRY_PASSWORD}`).toString('base64')}` },
  });
  if (response.status === 404) return [];
  const text = await response.text();
  assert.equal(response.status, 200, text);
  return (JSON.parse(text) as { tags: string[] | null }).tags ?? [];
}

/** A job that builds a FROM-scratch image and pushes it to the registry named by the server, logged in with the project's secrets. */
const BUILD_AND_PUSH = [
  'echo "$SLIPWAY_REGISTRY_PASSWORD" | docker login "$SLIPWAY_REGISTRY" -u "$SLIPWAY_REGISTRY_USER" --password-stdin',
  'mkdir -p /tmp/image && cd /tmp/image && echo hello > hello.txt && printf "FROM scratch\\nCOPY hello.txt /\\n" > Dockerfile',
  'docker build --network host -t "$SLIPWAY_IMAGE_TAG" /tmp/image',
  'docker push "$SLIPWAY_IMAGE_TAG"',
  'echo "pushed $SLIPWAY_IMAGE_TAG"',
];

/** Builds and pushes; with `hostImages` the image was built by the host's daemon, which keeps it until the scene closes. */
async function buildAndPush(s: DockerScene, labels: string[], hostImages = false): Promise<void> {
  const { name } = await s.project(pipelineFile({ publish: { labels, script: BUILD_AND_PUSH } }));
  for (const [secret, value] of [['SLIPWAY_REGISTRY_USER', REGISTRY_USER], ['SLIPWAY_REGISTRY_PASSWORD', REGISTRY_PASSWORD]] as const) {
    await s.api('PUT', `/api/v1/projects/${name}/secrets/${secret}`, { value });
  }
  const build = await s.waitForBuild((await s.trigger(name)).id, isFinished, 'the image build to finish', 240_000);
  const job = jobNamed(build, 'publish');
  const log = await s.logRaw(job.id);
  assert.equal(build.status, 'success', `${JSON.stringify(job.failure)}\n${log}\n--- server:\n${s.server.output()}`);
  const tag = /^pushed (\S+)$/m.exec(log)?.[1] ?? '';
  if (hostImages && tag !== '') s.onClose(() => docker('rmi', tag).then(() => undefined));
  assert.match(tag, new RegExp(`^${REGISTRY.replace(/\./g, '\\.')}/${name}:[0-9a-f]{8}-\\d{14}$`));
  assert.ok(!log.includes(REGISTRY_PASSWORD), 'the registry password is masked in the log');
  assert.ok((await registryTags(name)).includes(tag.split(':').at(-1) ?? ''), `the registry lists ${tag}`);
}

describe('Slipway end to end with docker engines', options ?? { skip: 'Docker is required on CI' }, () => {
  it('routes each job by its labels to the template and engine whose host has the attributes (two engines on one daemon stand in for two hosts)', async () => {
    await withDockerScene(
      (dir) =>
        'engines:\n' +
        dockerEngine('east', [template(dir, { name: 'east', labels: ['east'] }), template(dir, { name: 'ssd', labels: ['ssd'], attributes: { disk: 'ssd' } })], { attributes: { zone: 'east' } }) +
        dockerEngine('west', [template(dir, { name: 'west', labels: ['west'] }), template(dir, { name: 'ssd', labels: ['ssd'], attributes: { disk: 'ssd' } })], { attributes: { zone: 'west', disk: 'ssd' } }),
      async (s) => {
        const build = await runBuild(
          s,
          pipelineFile({
            a: { labels: ['east'], script: [PRINT_TASK] },
            b: { labels: ['west'], script: [PRINT_TASK] },
            c: { labels: ['ssd'], script: [PRINT_TASK] },
          }),
        );
        assert.match(taskOf(await s.logRaw(jobNamed(build, 'a').id)), /^slipway-east-east-east-/);
        assert.match(taskOf(await s.logRaw(jobNamed(build, 'b').id)), /^slipway-west-west-west-/);
        // Only the west host has disk: ssd, though both engines have the template.
        assert.match(taskOf(await s.logRaw(jobNamed(build, 'c').id)), /^slipway-west-west-ssd-/);
        await s.waitForNoContainers('the idle agents to be stopped and removed');
      },
    );
  });

  it('runs a job in the image it names: the template serving its labels launched with that image, or the image template for a job without labels', async () => {
    await withDockerScene(
      (dir) =>
        'engines:\n' +
        // maxJobsPerAgent 1: x's agent, in slipway/build, would otherwise take y as well if x ends first.
        dockerEngine('docker', [template(dir, { name: 'plain', labels: ['plain'], image: 'slipway/base:bookworm', maxJobsPerAgent: 1 })], {
          imageTemplate: { cpus: 0.25, memoryMiB: 256, maxAgents: 2, idleMinutes: 0.05, volumes: [`${dir}:${dir}:ro`] },
        }),
      async (s) => {
        // slipway/base has no git: the jobs check out their source only because they run in slipway/build.
        const build = await runBuild(
          s,
          pipelineFile({
            x: { labels: ['plain'], image: 'slipway/build:bookworm', script: [PRINT_TASK, 'command -v git'] },
            y: { image: 'slipway/build:bookworm', script: [PRINT_TASK, 'command -v git'] },
          }),
        );
        assert.match(taskOf(await s.logRaw(jobNamed(build, 'x').id)), /^slipway-docker-docker-plain-/);
        assert.match(taskOf(await s.logRaw(jobNamed(build, 'y').id)), /^slipway-docker-docker-job-image-/);
        await s.waitForNoContainers('the idle agents to be stopped and removed');
      },
    );
  });

  it('runs a job in slipway/base, an image without Node and git, from the source archive of the server', async () => {
    await withDockerScene(
      (dir) => 'engines:\n' + dockerEngine('docker', [template(dir, { name: 'base', labels: ['base'], image: 'slipway/base:bookworm', volumes: [] })]),
      async (s) => {
        const build = await runBuild(s, pipelineFile({ bare: { labels: ['base'], script: ['test ! -e /usr/bin/git', 'test ! -e /usr/bin/node', 'cat .slipway.yml'] } }));
        assert.match(await s.logRaw(jobNamed(build, 'bare').id), /"bare"/);
      },
    );
  });

  it('gives each job a fresh container with maxJobsPerAgent 1, keeps a warm agent with minIdle 1 and stops an idle one after idleMinutes', async () => {
    await withDockerScene(
      (dir) =>
        'engines:\n' +
        dockerEngine('docker', [
          template(dir, { name: 'fresh', labels: ['fresh'], maxJobsPerAgent: 1, maxAgents: 1 }),
          template(dir, { name: 'warm', labels: ['warm'], minIdle: 1, maxAgents: 1, idleMinutes: 0.02 }),
        ]),
      async (s) => {
        // The warm pool is filled with nothing queued.
        const [warm] = await waitFor('a warm agent', async () => {
          const found = await s.containers({ 'slipway.template': 'warm' });
          return found.length === 1 ? found : undefined;
        }, 60_000);
        const build = await runBuild(
          s,
          pipelineFile({
            one: { labels: ['fresh'], script: [PRINT_TASK] },
            two: { labels: ['fresh'], needs: ['one'], script: [PRINT_TASK] },
            three: { labels: ['warm'], needs: ['two'], script: [PRINT_TASK] },
            four: { labels: ['warm'], needs: ['three'], script: [PRINT_TASK] },
          }),
        );
        const tasks = await Promise.all(['one', 'two', 'three', 'four'].map(async (job) => taskOf(await s.logRaw(jobNamed(build, job).id))));
        assert.notEqual(tasks[0], tasks[1], 'a fresh container per job');
        assert.equal(tasks[2], warm, 'the warm agent took the job');
        assert.equal(tasks[3], warm, 'and the next one: minIdle keeps it past idleMinutes');
        await waitFor('the fresh agents to be gone', async () => (await s.containers({ 'slipway.template': 'fresh' })).length === 0, 60_000);
        assert.deepEqual(await s.containers({ 'slipway.template': 'warm' }), [warm]);
      },
    );
  });

  it('stops the container of a job that was canceled or ran past its timeout, though its template keeps idle agents for minutes', async () => {
    await withDockerScene(
      (dir) => 'engines:\n' + dockerEngine('docker', [template(dir, { name: 'long', labels: ['long'], idleMinutes: 30, maxAgents: 2 })]),
      async (s) => {
        const { name } = await s.project(
          pipelineFile({
            canceled: { labels: ['long'], script: ['echo started', 'sleep 120'] },
            late: { labels: ['long'], timeout: '2s', script: ['sleep 120'] },
          }),
        );
        const started = await s.trigger(name);
        const running = await s.waitForBuild(started.id, (b) => jobNamed(b, 'canceled').status === 'running', 'the job to run', 90_000);
        await s.waitForLog(jobNamed(running, 'canceled').id, (text) => text.includes('started'), 'the job to start its script');
        await s.api('POST', `/api/v1/jobs/${jobNamed(running, 'canceled').id}/cancel`);
        const build = await s.waitForBuild(started.id, isFinished, 'the build to finish', 90_000);
        assert.equal(jobNamed(build, 'canceled').status, 'canceled');
        assert.equal(jobNamed(build, 'late').failure?.kind, 'timeout');
        // idleMinutes 30 would keep them: only retiring removes them this soon.
        await s.waitForNoContainers('the containers of the canceled and timed-out jobs to be removed', 60_000);
      },
    );
  });

  it('fails the job with an out-of-memory message when its agent container exceeds its memory', async () => {
    await withDockerScene(
      (dir) => 'engines:\n' + dockerEngine('docker', [template(dir, { name: 'small', labels: ['small'], memoryMiB: 160 })]),
      async (s) => {
        const build = await runBuild(
          s,
          pipelineFile({
            hog: {
              labels: ['small'],
              script: [
                // The kernel kills the agent first (as it would a large agent): its container ends OOM-killed.
                'for p in /proc/[0-9]*; do [ "$(cat $p/comm 2>/dev/null)" = node ] && echo 1000 > $p/oom_score_adj; done',
                'head -c 1000m /dev/zero | tail',
              ],
            },
          }),
          'failed',
        );
        const hog = jobNamed(build, 'hog');
        assert.equal(hog.failure?.kind, 'system_failure');
        assert.match(hog.failure?.message ?? '', /out of memory: the agent's container exceeded its 160 MiB limit/);
        await s.waitForNoContainers('the OOM-killed agent to be removed');
      },
    );
  });

  it("starts a job's service beside its agent and removes it when the job ends", async () => {
    await withDockerScene(
      (dir) => 'engines:\n' + dockerEngine('docker', [template(dir, { name: 'svc', labels: ['svc'] })]),
      async (s) => {
        const { name } = await s.project(
          pipelineFile({
            job: {
              labels: ['svc'],
              services: [{ name: 'slipway/base:bookworm', alias: 'cache', entrypoint: ['sh', '-c', 'sleep 600'] }],
              script: ['grep -w cache /etc/hosts', 'echo service-reached', 'sleep 8'],
            },
            broken: { labels: ['svc'], services: [`${REGISTRY}/slipway-missing:none`], script: ['echo never'] },
          }),
        );
        const started = await s.trigger(name);
        await waitFor('the service container to run', async () => (await s.containers({ 'slipway.kind': 'service' })).length >= 1, 90_000);
        const build = await s.waitForBuild(started.id, isFinished, 'the build to finish', 90_000);
        const log = await s.logRaw(jobNamed(build, 'job').id);
        assert.equal(jobNamed(build, 'job').status, 'success', log);
        assert.match(log, /service-reached/);
        const broken = jobNamed(build, 'broken');
        assert.equal(broken.status, 'failed');
        assert.equal(broken.failure?.kind, 'system_failure');
        assert.ok(broken.failure?.message.includes(`${REGISTRY}/slipway-missing:none`), broken.failure?.message);
        await waitFor('the service container to be removed', async () => (await s.containers({ 'slipway.kind': 'service' })).length === 0, 30_000);
      },
    );
  });

  it('builds an image through the Docker socket and pushes it to the registry with the credentials of the project secrets', async () => {
    await withDockerScene(
      (dir) =>
        `registry: { address: "${REGISTRY}" }\nengines:\n` +
        dockerEngine('docker', [template(dir, { name: 'socket', labels: ['socket'], docker: 'socket', allowDockerSocket: true, maxJobsPerAgent: 1 })]),
      async (s) => {
        await buildAndPush(s, ['socket'], true);
      },
    );
  });

  it('builds an image with a Docker daemon of its own (dind) and pushes it to the registry', async () => {
    await withDockerScene(
      (dir) =>
        `registry: { address: "${REGISTRY}" }\nengines:\n` +
        dockerEngine('docker', [
          template(dir, {
            name: 'dind',
            labels: ['dind'],
            docker: 'dind',
            memoryMiB: 1024,
            cpus: 1,
            maxJobsPerAgent: 1,
            dindArgs: ['--bridge=none', '--iptables=false'],
            securityOptions: { capAdd: ['ALL'], capDrop: ['SYS_RESOURCE'], securityOpt: ['seccomp=unconfined', 'apparmor=unconfined', 'systempaths=unconfined'] },
          }),
        ]),
      async (s) => {
        await buildAndPush(s, ['dind']);
      },
    );
  });
});
