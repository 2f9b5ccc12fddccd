import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { createDockerEngine, type DockerEngineConfig, type Engine } from '../../src/engines/index.js';
import path from 'node:path';
import { isSlipwayError, messageOf } from '../../src/errors/index.js';
import { tempDir } from '../support/git-repo.js';
import { fileExists, waitFor } from '../support/wait.js';
import type { AgentRecord, EngineHarness, HarnessOptions } from './conformance.js';

/** Docker plumbing for the docker engine tests: a real dockerd, reached with the docker CLI as a user would. */

const run = promisify(execFile);

export const FAKE_AGENT = fileURLToPath(new URL('./fake-agent.js', import.meta.url));
export const HOG_AGENT = fileURLToPath(new URL('./docker-hog.js', import.meta.url));
export const BASE_IMAGE = 'slipway/base:bookworm';
export const BUILD_IMAGE = 'slipway/build:bookworm';
export const ENGINE_NAME = 'docker-test';
/** The registry of the test set-up (scripts/test-env.sh): basic auth with this user and password. */
export const TEST_REGISTRY = { address: '127.0.0.1:5000', username: 'slipway', password: 'slipway-registry' } as const;

export async function docker(...args: string[]): Promise<string> {
  const { stdout } = await run('docker', args, { maxBuffer: 16 * 1024 * 1024 });
  return stdout.trim();
}

export async function dockerLogs(container: string): Promise<{ stdout: string; stderr: string }> {
  return run('docker', ['logs', container], { maxBuffer: 16 * 1024 * 1024 });
}

/** `docker exec` in a container; rejects with the command's output when it fails. */
export async function dockerExec(container: string, script: string): Promise<string> {
  try {
    return await docker('exec', container, 'sh', '-c', script);
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string };
    throw new Error(`docker exec ${container} ${script}: ${messageOf(error)} ${failed.stdout ?? ''} ${failed.stderr ?? ''}`, { cause: error });
  }
}

/**
 * Whether the Docker suite runs here. Unreachable on CI is a failure (CI must test
 * Docker): a failing test is registered and null returned. Elsewhere the suite is skipped.
 */
export async function dockerSuiteOptions(suite: string): Promise<{ skip?: string } | null> {
  let reason: string | null = null;
  try {
    await docker('info', '--format', '{{.ID}}');
    await docker('image', 'inspect', BASE_IMAGE, BUILD_IMAGE);
  } catch (error) {
    reason = messageOf(error);
  }
  if (reason === null) return {};
  const where = `Docker or its test images are not available (${reason.split('\n')[0]})`;
  if (process.env.CI) {
    test(`Docker is available for the ${suite} (CI must test Docker)`, () => {
      assert.fail(`${where}; run scripts/test-env.sh and scripts/images.sh`);
    });
    return null;
  }
  return { skip: `${where}; start dockerd and build the images with scripts/test-env.sh and scripts/images.sh` };
}

/** Removes every container a test server made, whatever state it is in, tolerating ones Docker is removing already. */
export async function removeServerContainers(serverId: string): Promise<void> {
  const list = async (): Promise<string[]> => (await docker('ps', '-aq', '--filter', `label=slipway.server=${serverId}`)).split('\n').filter((id) => id !== '');
  for (const id of await list()) {
    await docker('rm', '-f', '-v', id).catch((error: unknown) => {
      if (!/already in progress|No such container/.test(String((error as { stderr?: string }).stderr ?? error))) throw error;
    });
  }
  await waitFor('the containers of the test server to be removed', async () => (await list()).length === 0, 30_000);
}

export type DockerHarness = EngineHarness & { serverId: string };

type Shared = { serverId: string; sharedDir: string };
const shared = new WeakMap<EngineHarness, Shared>();

export type DockerHarnessOptions = HarnessOptions & {
  /** Replaces the `fake` template's fields. */
  template?: Partial<NonNullable<DockerEngineConfig['templates']>[number]>;
  config?: Partial<DockerEngineConfig>;
};

/**
 * An engine whose `fake` template runs test/engines/fake-agent.js in slipway/base (no
 * Node in it: the engine brings it), with a temp folder bind-mounted at the same path.
 */
export async function makeDockerHarness(options: DockerHarnessOptions = {}): Promise<DockerHarness> {
  const earlier = options.sameStateAs === undefined ? undefined : shared.get(options.sameStateAs);
  const temp = earlier === undefined ? await tempDir('docker-engine') : null;
  const state: Shared = earlier ?? { serverId: `test-${process.pid}-${randomBytes(4).toString('hex')}`, sharedDir: temp?.dir ?? '' };
  const engine: Engine = createDockerEngine({
    name: ENGINE_NAME,
    serverId: state.serverId,
    templates: [
      {
        name: 'fake',
        labels: ['linux'],
        image: BASE_IMAGE,
        cpus: 0.5,
        memoryMiB: 128,
        network: 'none',
        volumes: [`${state.sharedDir}:${state.sharedDir}`],
        ...options.template,
      },
    ],
    stopGraceMs: 2000,
    runtime: { agentScript: FAKE_AGENT },
    // Tests look for missed exits more often than a server needs to.
    pollMs: 200,
    ...options.config,
  });
  const harness: DockerHarness = {
    engine,
    agentTemplate: 'fake',
    sharedDir: state.sharedDir,
    serverId: state.serverId,
    async agentAlive(record: AgentRecord) {
      const taskId = record.env.SLIPWAY_ENGINE_TASK_ID ?? assert.fail('the record has no task id');
      const running = await docker('inspect', '--format', '{{.State.Running}}', taskId).catch(() => 'false');
      return running === 'true';
    },
    async cleanup() {
      try {
        for (const task of await engine.list()) await engine.stop(task.id);
        await engine.close();
      } finally {
        if (temp !== null) {
          await removeServerContainers(state.serverId);
          await temp.remove();
        }
      }
    },
  };
  shared.set(harness, state);
  return harness;
}

/** A harness for one test, cleaned up after it whatever happens. */
export async function withDocker(harnessOptions: DockerHarnessOptions, test: (harness: DockerHarness) => Promise<void>): Promise<void> {
  const harness = await makeDockerHarness(harnessOptions);
  try {
    await test(harness);
  } finally {
    await harness.cleanup();
  }
}

/** A launch spec for a fake agent that records itself in the harness's shared folder. */
export function spec(harness: DockerHarness, env: Record<string, string> = {}) {
  const agentName = `agent-${randomBytes(4).toString('hex')}`;
  return {
    agentName,
    template: harness.agentTemplate,
    serverUrl: 'http://127.0.0.1:9/',
    token: `slipway_agent_${randomBytes(12).toString('hex')}`,
    env: { FAKE_AGENT_RECORD: path.join(harness.sharedDir, `${agentName}.json`), ...env },
  };
}

/** Waits until the fake agent in the container has started (it writes its record). */
export async function started(harness: DockerHarness, agentName: string): Promise<void> {
  await waitFor(`${agentName} to start`, () => fileExists(path.join(harness.sharedDir, `${agentName}.json`)), 60_000);
}

/** The problems the engine lists for a configuration it refuses (the test fails if it accepts it). */
export function configProblems(config: Parameters<typeof createDockerEngine>[0]): string[] {
  try {
    createDockerEngine(config);
  } catch (error) {
    assert.ok(isSlipwayError(error, 'CONFIG_INVALID'), String(error));
    return error.details as string[];
  }
  assert.fail('the configuration was accepted');
}
