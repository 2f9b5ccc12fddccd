import type Docker from 'dockerode';
import { SlipwayError, messageOf } from '../../errors/index.js';
import { statusOf } from './client.js';

/**
 * Makes sure an image is on the Docker host: present, or pulled. Concurrent calls for
 * one image share one pull.
 */
export function imagePuller(docker: Docker, engineName: string) {
  const pulls = new Map<string, Promise<void>>();

  async function pull(image: string): Promise<void> {
    const stream = await docker.pull(image);
    await new Promise<void>((resolve, reject) => {
      docker.modem.followProgress(stream, (error: Error | null) => (error === null ? resolve() : reject(error)));
    });
  }

  return async function ensureImage(image: string, origin: 'template' | 'job'): Promise<void> {
    try {
      await docker.getImage(image).inspect();
      return;
    } catch (error) {
      if (statusOf(error) !== 404) throw error;
    }
    let pulling = pulls.get(image);
    if (pulling === undefined) {
      pulling = pull(image).finally(() => pulls.delete(image));
      pulls.set(image, pulling);
    }
    try {
      await pulling;
    } catch (error) {
      const fix =
        origin === 'job'
          ? `check the job's image name, tag and registry; the engine pulls without registry credentials, so an image from a private registry must be pulled on the Docker host first (docker pull ${image})`
          : `build or pull it on the Docker host (docker pull ${image}; the engine pulls without registry credentials), or change the template's image`;
      throw new SlipwayError(origin === 'job' ? 'USAGE' : 'ENGINE_UNAVAILABLE', `engine '${engineName}': image '${image}' is not on the Docker host and pulling it failed (${messageOf(error)}); ${fix}`, {
        cause: error,
      });
    }
  };
}
