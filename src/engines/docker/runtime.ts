import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { Header } from 'tar';
import { SlipwayError, messageOf } from '../../errors/index.js';
import { unlessGone } from './client.js';
import { LABEL } from './labels.js';

/**
 * The agent runtime: a node binary and the agent script, in a docker volume that agent
 * containers mount read-only at /opt/slipway, so build images need no Node — and no
 * file of the server's host is mounted, so a remote (tcp) daemon works alike. The volume
 * is named after the files' contents; it is filled once, through a container that is
 * created (with the launch's image, which is on the host by then) and never started.
 */
export const RUNTIME_DIR = '/opt/slipway';
/** Written after the files: a volume without it was left half filled. */
const COMPLETE = '.complete';

export type Runtime = { volume: string; nodePath: string; scriptPath: string };

export function agentRuntime(docker: Docker, options: { engineName: string; nodePath: string; agentScript: string }) {
  const scriptName = path.basename(options.agentScript);
  let identity: Promise<{ hash: string; volume: string }> | null = null;
  const prepared = new Map<string, Promise<void>>();

  async function hashFiles(): Promise<{ hash: string; volume: string }> {
    const hash = createHash('sha256');
    for (const file of [options.nodePath, options.agentScript]) {
      hash.update(`${path.basename(file)}\0`);
      for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
    }
    const digest = hash.digest('hex').slice(0, 16);
    return { hash: digest, volume: `slipway-runtime-${digest}` };
  }

  async function fill(volume: string, hash: string, image: string): Promise<void> {
    if ((await unlessGone(docker.getVolume(volume).inspect())) === null) {
      await docker.createVolume({ Name: volume, Labels: { [LABEL.kind]: 'runtime', [LABEL.runtime]: hash } });
    }
    const helper = await docker.createContainer({
      name: `slipway-runtime-${hash}-${randomBytes(4).toString('hex')}`,
      Image: image,
      Entrypoint: [`${RUNTIME_DIR}/node`],
      Cmd: ['-v'],
      Labels: { [LABEL.kind]: 'runtime' },
      HostConfig: { NetworkMode: 'none', Binds: [`${volume}:${RUNTIME_DIR}`] },
    });
    try {
      const done = await unlessGone(helper.getArchive({ path: `${RUNTIME_DIR}/${COMPLETE}` }));
      if (done !== null) {
        done.resume();
        return;
      }
      await helper.putArchive(tarOf([{ name: 'node', file: options.nodePath, mode: 0o755 }, { name: scriptName, file: options.agentScript, mode: 0o644 }]), { path: RUNTIME_DIR });
      await helper.putArchive(tarOf([{ name: COMPLETE, content: Buffer.from(`${hash}\n`), mode: 0o644 }]), { path: RUNTIME_DIR });
    } finally {
      await unlessGone(helper.remove({ force: true }));
    }
  }

  return {
    /** The volume and paths for a container of image; concurrent calls share one preparation. */
    async ensure(image: string): Promise<Runtime> {
      identity ??= hashFiles();
      let id: { hash: string; volume: string };
      try {
        id = await identity;
      } catch (error) {
        identity = null;
        throw new SlipwayError(
          'ENGINE_UNAVAILABLE',
          `engine '${options.engineName}' cannot read the agent runtime (${options.nodePath}, ${options.agentScript}): ${messageOf(error)}; run \`npm run build\` to make the agent bundle, or set the runtime paths`,
          { cause: error },
        );
      }
      let preparing = prepared.get(id.volume);
      if (preparing === undefined) {
        preparing = fill(id.volume, id.hash, image);
        prepared.set(id.volume, preparing);
        // A failed preparation is tried again by the next launch.
        preparing.catch(() => prepared.delete(id.volume));
      }
      await preparing;
      return { volume: id.volume, nodePath: `${RUNTIME_DIR}/node`, scriptPath: `${RUNTIME_DIR}/${scriptName}` };
    },
  };
}

type TarEntry = { name: string; mode: number } & ({ file: string } | { content: Buffer });

/** A tar stream of entries named as given (files streamed, not read into memory). */
function tarOf(entries: readonly TarEntry[]): Readable {
  async function* blocks(): AsyncGenerator<Buffer> {
    for (const entry of entries) {
      const size = 'file' in entry ? (await stat(entry.file)).size : entry.content.length;
      const header = new Header({ path: entry.name, mode: entry.mode, size, uid: 0, gid: 0, mtime: new Date(0), type: 'File' });
      const block = Buffer.alloc(512);
      header.encode(block, 0);
      yield block;
      if ('file' in entry) {
        for await (const chunk of createReadStream(entry.file)) yield chunk as Buffer;
      } else {
        yield entry.content;
      }
      const padding = (512 - (size % 512)) % 512;
      if (padding > 0) yield Buffer.alloc(padding);
    }
    yield Buffer.alloc(1024);
  }
  return Readable.from(blocks());
}
