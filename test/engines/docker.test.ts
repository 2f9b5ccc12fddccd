import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { appendFile, chmod, copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import Docker from 'dockerode';
import { execAsRoot } from '../../src/engines/docker/exec.js';
import { createDockerEngine, dockerEngineConfigSchema, type TaskEvent } from '../../src/engines/index.js';
import { isSlipwayError } from '../../src/errors/index.js';
import { tempDir } from '../support/git-repo.js';
import { waitFor } from '../support/wait.js';
import { engineConformance } from './conformance.js';
import {
  BASE_IMAGE,
  BUILD_IMAGE,
  ENGINE_NAME,
  FAKE_AGENT,
  HOG_AGENT,
  docker,
  dockerExec,
  dockerLogs,
  dockerSuiteOptions,
  configProblems,
  makeDockerHarness,
  spec,
  started,
  TEST_REGISTRY,
  withDocker,
} from './docker-support.js';

const options = await dockerSuiteOptions('docker engine');

/** The relaxed options a Docker-in-Docker container needs where --privileged fails (see docs/docker.md). */
const DIND_SECURITY = { capAdd: ['ALL'], capDrop: ['SYS_RESOURCE'], securityOpt: ['seccomp=unconfined', 'apparmor=unconfined', 'systempaths=unconfined'] };

/**
 * A copy of the fake agent under a name and with contents of its own: its runtime volume
 * is one no other test prepares. Removed with its folder.
 */
async function freshAgentScript(prefix: string): Promise<{ dir: string; script: string; scriptName: string; remove: () => Promise<void> }> {
  const folder = await tempDir(prefix);
  const scriptName = `fake-agent-${randomBytes(4).toString('hex')}.js`;
  const script = path.join(folder.dir, scriptName);
  await copyFile(FAKE_AGENT, script);
  await appendFile(script, `\n// ${randomBytes(8).toString('hex')}\n`);
  return { dir: folder.dir, script, scriptName, remove: folder.remove };
}

/** The name of the runtime volume a task's container mounts at /opt/slipway. */
function runtimeVolumeOf(taskId: string): Promise<string> {
  return docker('inspect', '--format', '{{range .Mounts}}{{if eq .Destination "/opt/slipway"}}{{.Name}}{{end}}{{end}}', taskId);
}

if (options !== null) {
  const skip = options.skip;
  describe('docker', skip === undefined ? {} : { skip }, () => {
    engineConformance('docker', (harnessOptions) => makeDockerHarness(harnessOptions));

    describe('the docker engine', () => {
      it('enforces the template\'s memory and cpus, visible to the agent in its cgroup', () =>
        withDocker({}, async (harness) => {
          const launch = spec(harness);
          const { taskId } = await harness.engine.launch(launch);
          await started(harness, launch.agentName);
          const memory = await dockerExec(taskId, 'cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max');
          assert.equal(Number(memory), 128 * 1024 * 1024);
          const cpu = await dockerExec(taskId, 'if [ -f /sys/fs/cgroup/cpu.max ]; then cat /sys/fs/cgroup/cpu.max; else echo "$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us) $(cat /sys/fs/cgroup/cpu/cpu.cfs_period_us)"; fi');
          const [quota, period] = cpu.split(' ').map(Number);
          assert.equal((quota ?? 0) / (period ?? 1), 0.5, cpu);
        }));

      it('reports an agent that exceeds its memory as exited with reason oom', () =>
        withDocker({ template: { memoryMiB: 64 }, config: { runtime: { agentScript: HOG_AGENT } } }, async (harness) => {
          const events: TaskEvent[] = [];
          harness.engine.onTaskEvent((event) => events.push(event));
          const { taskId } = await harness.engine.launch(spec(harness));
          const event = await waitFor('the OOM kill to be reported', () => events.find((candidate) => candidate.taskId === taskId), 60_000);
          assert.equal(event.reason, 'oom');
          assert.equal(events.filter((candidate) => candidate.taskId === taskId).length, 1);
          const listed = (await harness.engine.list()).find((task) => task.id === taskId);
          assert.equal(listed?.reason, 'oom');
        }));

      it('labels every container and keeps the token out of its labels and command', () =>
        withDocker({}, async (harness) => {
          const launch = spec(harness);
          const { taskId } = await harness.engine.launch(launch);
          const info = JSON.parse(await docker('inspect', taskId)) as Array<{ Config: { Labels: Record<string, string>; Cmd: string[]; Entrypoint: string[] }; Args: string[]; HostConfig: { Init: boolean } }>;
          const container = info[0] ?? assert.fail('no container');
          assert.deepEqual(container.Config.Labels, {
            'slipway.server': harness.serverId,
            'slipway.engine': ENGINE_NAME,
            'slipway.agent': launch.agentName,
            'slipway.template': 'fake',
            'slipway.kind': 'agent',
          });
          const visible = JSON.stringify([container.Config.Labels, container.Config.Cmd, container.Config.Entrypoint, container.Args]);
          assert.ok(!visible.includes(launch.token), 'the token is neither in labels nor in the command');
          assert.ok(container.Config.Cmd.includes('--name') && container.Config.Cmd.includes('linux'), visible);
          assert.equal(container.HostConfig.Init, true);
        }));

      it('refuses a template with docker: socket unless allowDockerSocket says the admin accepts root on the host', () => {
        const problems = configProblems({ serverId: 's', templates: [{ name: 'sock', image: BUILD_IMAGE, docker: 'socket' }] });
        assert.equal(problems.length, 1, problems.join('\n'));
        assert.match(problems[0] ?? '', /templates\[0\] \(sock\)\.docker: 'socket' .* root on that host .* set allowDockerSocket: true/);
        const remote = configProblems({ serverId: 's', host: 'docker.example', templates: [{ name: 'sock', image: BUILD_IMAGE, docker: 'socket', allowDockerSocket: true }] });
        assert.match(remote.join('\n'), /not over TCP/);
      });

      it('lets a build with docker: socket use the host\'s daemon', () =>
        withDocker({ template: { image: BUILD_IMAGE, docker: 'socket', allowDockerSocket: true } }, async (harness) => {
          const launch = spec(harness);
          const { taskId } = await harness.engine.launch(launch);
          await started(harness, launch.agentName);
          const inside = await dockerExec(taskId, "docker info --format '{{.ID}}'");
          assert.equal(inside, await docker('info', '--format', '{{.ID}}'));
          assert.match(await dockerExec(taskId, "docker version --format '{{.Server.Version}}'"), /^\d+\.\d+/);
        }));

      it('runs a daemon of its own in a dind container with the relaxed security options', () =>
        withDocker(
          { template: { image: BUILD_IMAGE, docker: 'dind', dindArgs: ['--bridge=none', '--iptables=false'], securityOptions: DIND_SECURITY, memoryMiB: 1024, cpus: 1 } },
          async (harness) => {
            const launch = spec(harness);
            const { taskId } = await harness.engine.launch(launch);
            await started(harness, launch.agentName);
            const inner = await dockerExec(taskId, "docker info --format '{{.ID}}'");
            assert.notEqual(inner, await docker('info', '--format', '{{.ID}}'));
            const volumes = await docker('inspect', '--format', '{{range .Mounts}}{{.Destination}} {{end}}', taskId);
            assert.match(volumes, /\/var\/lib\/docker/);
          },
        ));

      it('rejects a failed exec with the command\'s own output, without the stream\'s frame headers', () =>
        withDocker({}, async (harness) => {
          const launch = spec(harness);
          const { taskId } = await harness.engine.launch(launch);
          await started(harness, launch.agentName);
          // 65 bytes: the frame header's size byte is 'A', a printable character.
          const line = 'x'.repeat(64);
          await assert.rejects(execAsRoot(new Docker().getContainer(taskId), ['sh', '-c', `echo ${line} >&2; exit 3`]), (error: Error) => {
            assert.equal(error.message, `'sh -c echo ${line} >&2; exit 3' exited with 3: ${line}`);
            return true;
          });
        }));

      it('runs the agent in an image without Node, with the runtime it mounts', () =>
        withDocker({}, async (harness) => {
          const launch = spec(harness);
          const { taskId } = await harness.engine.launch(launch);
          await started(harness, launch.agentName);
          assert.equal(await dockerExec(taskId, 'command -v node || echo none'), 'none');
          assert.equal(await dockerExec(taskId, '/opt/slipway/node -v'), process.version);
          await assert.rejects(dockerExec(taskId, 'touch /opt/slipway/x'), /Read-only file system/);
        }));

      it('runs the agent as the template\'s user, with a work folder that user can write', () =>
        withDocker({ template: { user: '65534:65534' } }, async (harness) => {
          await chmod(harness.sharedDir, 0o777);
          const launch = spec(harness);
          const { taskId } = await harness.engine.launch(launch);
          await started(harness, launch.agentName);
          const record = JSON.parse(await readFile(path.join(harness.sharedDir, `${launch.agentName}.json`), 'utf8')) as { pid: number; argv: string[] };
          assert.equal(await dockerExec(taskId, `stat -c %u /proc/${record.pid}`), '65534');
          const workDir = record.argv[record.argv.indexOf('--work-dir') + 1] ?? assert.fail('no --work-dir');
          await dockerExec(taskId, `mkdir -p ${workDir} && touch ${workDir}/probe`);
        }));

      it('prepares the runtime volume once for concurrent launches', async () => {
        const { script, remove } = await freshAgentScript('docker-runtime');
        let volume = '';
        await withDocker({ config: { runtime: { agentScript: script } } }, async (fresh) => {
          const since = Math.floor(Date.now() / 1000) - 1;
          const launches = [spec(fresh), spec(fresh), spec(fresh)];
          const tasks = await Promise.all(launches.map((launch) => fresh.engine.launch(launch)));
          for (const launch of launches) await started(fresh, launch.agentName);
          volume = await runtimeVolumeOf(tasks[0]?.taskId ?? '');
          assert.match(volume, /^slipway-runtime-[0-9a-f]{16}$/);
          const hash = volume.slice('slipway-runtime-'.length);
          const until = Math.ceil(Date.now() / 1000) + 1;
          const created = await docker('events', '--since', String(since), '--until', String(until), '--filter', 'event=create', '--filter', 'label=slipway.kind=runtime', '--format', '{{.Actor.Attributes.name}}');
          assert.equal(created.split('\n').filter((name) => name.includes(hash)).length, 1, created);
          assert.equal(await docker('volume', 'inspect', '--format', '{{index .Labels "slipway.kind"}}', volume), 'runtime');
        }).finally(async () => {
          if (volume !== '') await docker('volume', 'rm', volume);
          await remove();
        });
      });

      it('gives whole runtime files to the agents of two servers that fill an empty runtime volume at once', async () => {
        const { script, scriptName, remove } = await freshAgentScript('docker-runtime-race');
        const scriptHash = createHash('sha256').update(await readFile(script)).digest('hex');
        let volume = '';
        const first = await makeDockerHarness({ config: { runtime: { agentScript: script } } });
        const second = await makeDockerHarness({ config: { runtime: { agentScript: script } } });
        try {
          assert.notEqual(first.serverId, second.serverId);
          const launches = [first, second, first, second].map((harness) => ({ harness, launch: spec(harness) }));
          const tasks = await Promise.all(launches.map(({ harness, launch }) => harness.engine.launch(launch)));
          for (const { harness, launch } of launches) await started(harness, launch.agentName);
          for (const { taskId } of tasks) {
            assert.equal(await dockerExec(taskId, '/opt/slipway/node -v'), process.version);
            assert.equal(await dockerExec(taskId, `sha256sum /opt/slipway/${scriptName} | cut -d' ' -f1`), scriptHash);
            assert.deepEqual((await dockerExec(taskId, 'ls -A /opt/slipway')).split('\n').sort(), ['.complete', 'node', scriptName].sort());
          }
          volume = await runtimeVolumeOf(tasks[0]?.taskId ?? '');
          assert.match(volume, /^slipway-runtime-[0-9a-f]{16}$/);
        } finally {
          await first.cleanup();
          await second.cleanup();
          if (volume !== '') await docker('volume', 'rm', volume);
          await remove();
        }
      });

      it('says an image cannot fill the runtime when it cannot run the runtime\'s node, and leaves one staging copy however often it tries', async () => {
        const { dir, script, scriptName, remove } = await freshAgentScript('docker-runtime-empty');
        // An image with no file at all: no loader for node.
        const empty = `slipway-test/empty:${randomBytes(4).toString('hex')}`;
        const emptyTar = path.join(dir, 'empty.tar');
        await writeFile(emptyTar, Buffer.alloc(1024)); // a tar archive's end: two zero blocks
        await docker('import', emptyTar, empty);
        let volume = '';
        try {
          await withDocker({ config: { runtime: { agentScript: script }, imageTemplate: { network: 'none', cpus: 0.5, memoryMiB: 128 } } }, async (harness) => {
            for (let attempt = 0; attempt < 2; attempt++) {
              await assert.rejects(harness.engine.launch({ ...spec(harness), template: 'job-image', image: empty }), (error) => {
                assert.ok(isSlipwayError(error, 'ENGINE_UNAVAILABLE'), String(error));
                assert.match(error.message, /the container that fills the agent runtime volume slipway-runtime-[0-9a-f]{16} with image .* needs glibc/);
                return true;
              });
            }
            const launch = spec(harness);
            const { taskId } = await harness.engine.launch(launch);
            await started(harness, launch.agentName);
            assert.deepEqual((await dockerExec(taskId, 'ls -A /opt/slipway')).split('\n').sort(), ['.complete', 'node', scriptName].sort());
            volume = await runtimeVolumeOf(taskId);
          });
        } finally {
          if (volume !== '') await docker('volume', 'rm', volume);
          await docker('rmi', empty);
          await remove();
        }
      });

      it('runs services in the agent\'s network namespace, reachable at 127.0.0.1 and their names, and removes them', () =>
        withDocker({}, async (harness) => {
          const { engine } = harness;
          const launch = spec(harness);
          const { taskId } = await engine.launch(launch);
          await started(harness, launch.agentName);
          const port = 20_000 + Math.floor(Math.random() * 20_000);
          const service = {
            image: BASE_IMAGE,
            alias: 'pong-service',
            entrypoint: ['perl', '-MIO::Socket::INET', '-e', `my $s = IO::Socket::INET->new(LocalAddr => "127.0.0.1:${port}", Listen => 5, ReuseAddr => 1) or die $!; while (my $c = $s->accept) { print $c "pong\\n"; close $c }`],
            command: null,
            variables: { SERVICE_VARIABLE: 'set' },
          };
          const attemptId = 1_000_000 + Math.floor(Math.random() * 1_000_000);
          const tasks = await engine.startServices?.({ taskId, attemptId, services: [service] });
          assert.deepEqual(tasks?.map((task) => task.hostnames), [['pong-service', 'base']]);
          const ask = (host: string) => dockerExec(taskId, `bash -c 'exec 3<>/dev/tcp/${host}/${port} && cat <&3'`).catch(() => undefined);
          assert.equal(await waitFor('the service to answer at 127.0.0.1', () => ask('127.0.0.1'), 30_000), 'pong');
          assert.equal(await ask('pong-service'), 'pong');
          assert.equal(await ask('base'), 'pong');
          const labels = await docker('inspect', '--format', '{{json .Config.Labels}}', tasks?.[0]?.id ?? '');
          assert.deepEqual(JSON.parse(labels), { 'slipway.server': harness.serverId, 'slipway.engine': ENGINE_NAME, 'slipway.agent': launch.agentName, 'slipway.kind': 'service', 'slipway.attempt': String(attemptId) });

          const restarted = await makeDockerHarness({ sameStateAs: harness });
          try {
            assert.deepEqual((await restarted.engine.listServices?.())?.map((found) => [found.attemptId, found.agentName]), [[attemptId, launch.agentName]]);
          } finally {
            await restarted.engine.close();
          }
          await engine.stopServices?.(attemptId);
          await engine.stopServices?.(attemptId);
          assert.deepEqual(await engine.listServices?.(), []);
          assert.doesNotMatch(await dockerExec(taskId, 'cat /etc/hosts'), /pong-service/);

          await engine.startServices?.({ taskId, attemptId: attemptId + 1, services: [service] });
          assert.equal((await engine.listServices?.())?.length, 1);
          await engine.stop(taskId);
          assert.deepEqual(await engine.listServices?.(), []);
        }));

      it('runs a job\'s own image with the image template, and names an image it cannot get', () =>
        // With the registry's credentials, which then answers that it has no such image.
        withDocker({ config: { imageTemplate: { network: 'none', cpus: 0.5, memoryMiB: 128 }, registries: [TEST_REGISTRY] } }, async (harness) => {
          const { engine } = harness;
          assert.deepEqual(engine.imageTemplate, { name: 'job-image', labels: [], cpus: 0.5, memoryMiB: 128, maxAgents: 4, minIdle: 0, idleMinutes: 5, maxJobsPerAgent: 0, attributes: {}, image: null });
          const launch = { ...spec(harness), template: 'job-image' };
          await assert.rejects(engine.launch(launch), (error) => isSlipwayError(error, 'USAGE') && /names none/.test(error.message));
          const { taskId } = await engine.launch({ ...launch, image: BUILD_IMAGE });
          assert.equal(await docker('inspect', '--format', '{{.Config.Image}}', taskId), BUILD_IMAGE);
          const missing = `${TEST_REGISTRY.address}/slipway/no-such-image:1`;
          await assert.rejects(engine.launch({ ...spec(harness), template: 'job-image', image: missing }), (error) => {
            assert.ok(isSlipwayError(error, 'USAGE'), String(error));
            assert.ok(error.message.includes(`image '${missing}' is not on the Docker host`), error.message);
            return true;
          });
        }));

      it('looks for an image it found once only when a launch finds it gone, and then names the image', () =>
        withDocker({ config: { imageTemplate: { network: 'none', cpus: 0.5, memoryMiB: 128 } } }, async (harness) => {
          const { engine } = harness;
          // A tag of its own, which no registry reachable from here has.
          const image = `slipway-test/retag:${randomBytes(4).toString('hex')}`;
          await docker('tag', BASE_IMAGE, image);
          try {
            const first = await engine.launch({ ...spec(harness), template: 'job-image', image });
            await engine.stop(first.taskId);
            await docker('rmi', image);
            await assert.rejects(engine.launch({ ...spec(harness), template: 'job-image', image }), (error) => {
              assert.ok(isSlipwayError(error, 'USAGE'), String(error));
              assert.ok(error.message.includes(`image '${image}' is not on the Docker host`), error.message);
              return true;
            });
            await docker('tag', BASE_IMAGE, image);
            const again = await engine.launch({ ...spec(harness), template: 'job-image', image });
            assert.equal(await docker('inspect', '--format', '{{.Config.Image}}', again.taskId), image);
            await engine.stop(again.taskId);
          } finally {
            await docker('rmi', image).catch(() => undefined);
          }
        }));

      it('offers the daemon\'s cpus and memory less what its running agents reserve, with the host\'s attributes', () =>
        withDocker({ config: { attributes: { rack: 'r1' } } }, async (harness) => {
          const [before] = await harness.engine.capacity();
          const launch = spec(harness);
          const { taskId } = await harness.engine.launch(launch);
          const [during] = await harness.engine.capacity();
          assert.ok(before && during);
          assert.equal(before.cpus - during.cpus, 0.5);
          assert.equal(before.memoryMiB - during.memoryMiB, 128);
          assert.equal(during.attributes.rack, 'r1');
          assert.equal(during.attributes.hostname, await docker('info', '--format', '{{.Name}}'));
          await harness.engine.stop(taskId);
        }));

      it('removes an exited agent\'s container once its exit is reported and keepExitedMinutes have passed', () =>
        withDocker({ config: { keepExitedMinutes: 0 } }, async (harness) => {
          const events: TaskEvent[] = [];
          harness.engine.onTaskEvent((event) => events.push(event));
          const { taskId } = await harness.engine.launch(spec(harness, { FAKE_AGENT_EXIT_AFTER_MS: '0', FAKE_AGENT_EXIT_CODE: '4' }));
          await waitFor('the exit to be reported', () => events.find((event) => event.taskId === taskId), 30_000);
          await waitFor('the container to be removed', async () => (await docker('ps', '-aq', '--filter', `name=^${taskId}$`)) === '', 30_000);
        }));

      it('runs the bundled agent by default, which tries to reach its server', () =>
        withDocker({ config: { runtime: {} } }, async (harness) => {
          const { taskId } = await harness.engine.launch(spec(harness));
          const logs = await waitFor(
            'the agent to try the server',
            async () => {
              const { stderr } = await dockerLogs(taskId);
              return stderr.includes('ECONNREFUSED 127.0.0.1:9') ? stderr : undefined;
            },
            30_000,
          );
          assert.match(logs, /^agent: /m);
        }));

      it('offers nothing and refuses launches with ENGINE_UNAVAILABLE while the daemon cannot be reached', async () => {
        const errors: unknown[] = [];
        const engine = createDockerEngine({
          serverId: 'unreachable',
          socketPath: '/nonexistent/docker.sock',
          templates: [{ name: 'fake', image: BASE_IMAGE }],
          onError: (error) => errors.push(error),
        });
        try {
          assert.deepEqual(await engine.capacity(), []);
          assert.deepEqual(await engine.capacity(), []);
          assert.equal(errors.length, 1, 'an outage is reported once');
          assert.ok(isSlipwayError(errors[0], 'ENGINE_UNAVAILABLE'), String(errors[0]));
          assert.match(errors[0].message, /is the Docker daemon running/);
          const launch = { agentName: 'unreachable-agent', template: 'fake', serverUrl: 'http://127.0.0.1:9/', token: 't', env: {} };
          await assert.rejects(engine.launch(launch), (error) => isSlipwayError(error, 'ENGINE_UNAVAILABLE'));
          await assert.rejects(engine.list(), (error) => isSlipwayError(error, 'ENGINE_UNAVAILABLE'));
        } finally {
          await engine.close();
        }
      });

      it('fills defaults from the configuration schema and lists every problem', () => {
        const settings = dockerEngineConfigSchema.parse({ templates: [{ name: 'small', image: BASE_IMAGE }] });
        assert.equal(settings.socketPath, '/var/run/docker.sock');
        assert.deepEqual(settings.templates[0], {
          name: 'small',
          labels: [],
          image: BASE_IMAGE,
          minIdle: 0,
          cpus: 1,
          memoryMiB: 1024,
          maxAgents: 4,
          idleMinutes: 5,
          maxJobsPerAgent: 0,
          attributes: {},
          env: {},
          volumes: [],
          network: 'host',
          user: null,
          docker: 'none',
          allowDockerSocket: false,
          dindArgs: [],
          securityOptions: { privileged: false, capAdd: [], capDrop: [], securityOpt: [] },
        });
        assert.equal(settings.stopGraceMs, 10_000);
        assert.equal(settings.keepExitedMinutes, 10);
        const problems = configProblems({ serverId: 's', imageTemplate: false, templates: [{ name: 'a', image: BASE_IMAGE, cpus: 0, volumes: ['relative'] }, { name: 'a', image: BASE_IMAGE }] });
        assert.match(problems.join('\n'), /cpus: must be a number above 0/);
        assert.match(problems.join('\n'), /'a' is used by another template/);
        assert.match(problems.join('\n'), /volumes\[0\]: 'relative' must be/);
        assert.match(configProblems({ serverId: 's', templates: [{ name: 'x' }] as never }).join('\n'), /image/);
        assert.match(configProblems({ serverId: 's', imageTemplate: false }).join('\n'), /add at least one agent template/);
      });

    });
  });
}
