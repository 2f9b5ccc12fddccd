import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, it } from 'node:test';
import { registryOf } from '../../src/engines/docker/registries.js';
import { isSlipwayError } from '../../src/errors/index.js';
import { tempDir } from '../support/git-repo.js';
import { BASE_IMAGE, configProblems, docker, dockerSuiteOptions, spec, started, TEST_REGISTRY, withDocker } from './docker-support.js';

const { address: REGISTRY, username: USERNAME, password: PASSWORD } = TEST_REGISTRY;

type Pushed = { repository: string; image: (tag: string) => string };

/**
 * Pushes slipway/base to a repository of its own on the registry under the given tags,
 * with a docker CLI configuration of its own (root's ~/.docker stays untouched), and takes
 * the local tags away again, so that a launch has to pull. Removes all of it afterwards.
 */
async function withPushedImage(tags: readonly string[], test: (pushed: Pushed) => Promise<void>): Promise<void> {
  const repository = `${REGISTRY}/slipway-test-pull-${randomBytes(4).toString('hex')}`;
  const image = (tag: string) => `${repository}:${tag}`;
  const config = await tempDir('docker-registry-config');
  const auth = Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64');
  await writeFile(path.join(config.dir, 'config.json'), JSON.stringify({ auths: { [REGISTRY]: { auth } } }), { mode: 0o600 });
  try {
    for (const tag of tags) {
      await docker('tag', BASE_IMAGE, image(tag));
      await docker('--config', config.dir, 'push', image(tag));
      await docker('rmi', image(tag));
    }
    await test({ repository, image });
  } finally {
    for (const tag of tags) {
      if ((await docker('images', '-q', image(tag))) !== '') await docker('rmi', '-f', image(tag));
      await deleteManifest(repository, tag, auth);
    }
    await config.remove();
  }
}

/** Removes a tag's manifest from the registry (its layers are shared with every other test image). */
async function deleteManifest(repository: string, tag: string, auth: string): Promise<void> {
  const name = repository.slice(REGISTRY.length + 1);
  const headers = { authorization: `Basic ${auth}`, accept: 'application/vnd.docker.distribution.manifest.v2+json' };
  const found = await fetch(`http://${REGISTRY}/v2/${name}/manifests/${tag}`, { method: 'HEAD', headers });
  const digest = found.headers.get('docker-content-digest');
  if (!found.ok || digest === null) return; // never pushed: the test failed before
  const deleted = await fetch(`http://${REGISTRY}/v2/${name}/manifests/${digest}`, { method: 'DELETE', headers });
  assert.ok(deleted.status === 202 || deleted.status === 404, `deleting ${repository}:${tag} from the registry answered ${deleted.status}`);
}

describe('registry credentials of the docker engine', () => {
  it('tells an image\'s registry by docker\'s rule: a first component with a dot or colon, or localhost', () => {
    assert.equal(registryOf('postgres:16'), 'docker.io');
    assert.equal(registryOf('library/postgres'), 'docker.io');
    assert.equal(registryOf('slipway/base:bookworm'), 'docker.io');
    assert.equal(registryOf('127.0.0.1:5000/team/app:1'), '127.0.0.1:5000');
    assert.equal(registryOf('Registry.Example.com/app@sha256:abc'), 'registry.example.com');
    assert.equal(registryOf('localhost/app'), 'localhost');
    assert.equal(registryOf('index.docker.io/library/node'), 'docker.io');
  });

  it('stops the start with every problem of its registries, naming a password file it cannot read', async () => {
    const dir = await tempDir('docker-registry-problems');
    try {
      const missing = path.join(dir.dir, 'no-such-password');
      const empty = path.join(dir.dir, 'empty-password');
      await writeFile(empty, '\n');
      const problems = configProblems({
        serverId: 's',
        templates: [{ name: 'a', image: BASE_IMAGE }],
        registries: [
          { address: REGISTRY, username: USERNAME, passwordFile: missing },
          { address: 'https://registry.example.com/v2/', username: 'u', password: 'inline-secret' },
          { address: 'docker.io', username: 'u' },
          { address: 'index.docker.io', username: 'u', password: 'p', passwordFile: empty },
        ],
      });
      const all = problems.join('\n');
      assert.match(all, new RegExp(`registries\\[0\\] \\(${REGISTRY.replace(/\./g, '\\.')}\\)\\.passwordFile: cannot read ${missing}`));
      assert.match(all, /registries\[1\] \(https:\/\/registry\.example\.com\/v2\/\)\.address: give the registry as image names start with it/);
      assert.match(all, /registries\[2\] \(docker\.io\): give either password or passwordFile/);
      assert.match(all, /registries\[3\] \(index\.docker\.io\)\.address: another entry has credentials for docker\.io/);
      assert.match(all, /registries\[3\] \(index\.docker\.io\): give either password or passwordFile/);
      assert.match(all, /registries\[3\] \(index\.docker\.io\)\.passwordFile: .* is empty/);
      assert.ok(!all.includes('inline-secret'), 'no password in the problems');
    } finally {
      await dir.remove();
    }
  });
});

const options = await dockerSuiteOptions('docker engine\'s registry pulls');

if (options !== null) {
  const skip = options.skip;
  describe('pulls from a registry that requires credentials', skip === undefined ? {} : { skip }, () => {
    it('pulls an agent\'s image and a service\'s image with the credentials configured for their registry', () =>
      withPushedImage(['agent', 'service'], async (pushed) => {
        const secrets = await tempDir('docker-registry-password');
        const passwordFile = path.join(secrets.dir, 'password');
        await writeFile(passwordFile, `${PASSWORD}\n`, { mode: 0o600 });
        try {
          await withDocker({ template: { image: pushed.image('agent') }, config: { registries: [{ address: REGISTRY, username: USERNAME, passwordFile }] } }, async (harness) => {
            const launch = spec(harness);
            const { taskId } = await harness.engine.launch(launch);
            await started(harness, launch.agentName);
            assert.equal(await docker('inspect', '--format', '{{.Config.Image}}', taskId), pushed.image('agent'));
            const labels = await docker('inspect', '--format', '{{json .Config.Labels}} {{json .Config.Env}}', taskId);
            assert.ok(!labels.includes(PASSWORD), 'the password is neither in the labels nor in the environment');

            const attemptId = 1_000_000 + Math.floor(Math.random() * 1_000_000);
            const services = await harness.engine.startServices?.({
              taskId,
              attemptId,
              services: [{ image: pushed.image('service'), alias: 'waiter', entrypoint: ['sleep', 'infinity'], command: null, variables: {} }],
            });
            assert.equal(services?.length, 1);
            assert.equal(await docker('inspect', '--format', '{{.Config.Image}}', services?.[0]?.id ?? ''), pushed.image('service'));
            await harness.engine.stopServices?.(attemptId);
          });
        } finally {
          await secrets.remove();
        }
      }));

    it('says which registry refused a pull and that the engine\'s credentials for it are missing or wrong', () =>
      withPushedImage(['job'], async (pushed) => {
        const image = pushed.image('job');
        await withDocker({ config: { imageTemplate: { network: 'none', cpus: 0.5, memoryMiB: 128 } } }, async (harness) => {
          await assert.rejects(harness.engine.launch({ ...spec(harness), template: 'job-image', image }), (error) => {
            assert.ok(isSlipwayError(error, 'USAGE'), String(error));
            assert.ok(error.message.includes(`registry ${REGISTRY} refused to let it pull image '${image}'`), error.message);
            assert.ok(error.message.includes(`has no credentials for ${REGISTRY}: add them under its registries`), error.message);
            return true;
          });
        });
        const wrong = `wrong-${randomBytes(6).toString('hex')}`;
        await withDocker({ template: { image }, config: { registries: [{ address: REGISTRY, username: USERNAME, password: wrong }] } }, async (harness) => {
          await assert.rejects(harness.engine.launch(spec(harness)), (error) => {
            assert.ok(isSlipwayError(error, 'ENGINE_UNAVAILABLE'), String(error));
            assert.ok(error.message.includes(`registry ${REGISTRY} refused`), error.message);
            assert.ok(error.message.includes(`the credentials for ${REGISTRY} in the engine's configuration (registries, username '${USERNAME}') are wrong`), error.message);
            assert.ok(!error.message.includes(wrong), 'the password is not in the message');
            return true;
          });
        });
        assert.equal(await docker('images', '-q', image), '', 'nothing was pulled');
      }));
  });
}
