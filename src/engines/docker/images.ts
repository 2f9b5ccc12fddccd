import type Docker from 'dockerode';
import { SlipwayError, messageOf } from '../../errors/index.js';
import { singleFlight } from '../single-flight.js';
import { statusOf } from './client.js';
import { authFor, isRefusal, registryOf, type RegistryCredentials } from './registries.js';

/**
 * Makes sure an image is on the Docker host: present, or pulled with the credentials the
 * engine has for the image's registry. Concurrent calls for one image share one pull.
 */
export function imagePuller(docker: Docker, engineName: string, credentials: readonly RegistryCredentials[]) {
  const pulls = singleFlight<void>();

  async function pull(image: string): Promise<void> {
    const authconfig = authFor(credentials, registryOf(image));
    const stream = await docker.pull(image, authconfig === null ? {} : { authconfig });
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(stream, (error: Error | null) => (error === null ? resolve() : reject(error)));
    });
  }

  function failure(image: string, origin: 'template' | 'job', error: unknown): SlipwayError {
    const code = origin === 'job' ? 'USAGE' : 'ENGINE_UNAVAILABLE';
    const cause = messageOf(error);
    if (isRefusal(error)) {
      const registry = registryOf(image);
      const account = authFor(credentials, registry);
      const fix =
        account === null
          ? `the engine's configuration has no credentials for ${registry}: add them under its registries (address '${registry}', username, password or passwordFile; see docs/docker.md)`
          : `the credentials for ${registry} in the engine's configuration (registries, username '${account.username}') are wrong or have no access to this image`;
      return new SlipwayError(code, `engine '${engineName}': registry ${registry} refused to let it pull image '${image}' (${cause}); ${fix}`, { cause: error });
    }
    const fix =
      origin === 'job'
        ? `check the job's image name, tag and registry (docker pull ${image} on the Docker host shows the same)`
        : `build or pull it on the Docker host (docker pull ${image}), or change the template's image`;
    return new SlipwayError(code, `engine '${engineName}': image '${image}' is not on the Docker host and pulling it failed (${cause}); ${fix}`, { cause: error });
  }

  return async function ensureImage(image: string, origin: 'template' | 'job'): Promise<void> {
    try {
      await docker.getImage(image).inspect();
      return;
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    try {
      await pulls(image, () => pull(image));
    } catch (error) {
      throw failure(image, origin, error);
    }
  };
}
