import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
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
      identity ??= runtimeIdentity(options.nodePath, options.agentScript);
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

/**
 * The bundle's V8 code cache (scripts/bundle-agent.mjs) differs from build to build of one
 * source, and any of them serves that source: it is left out of the volume's identity, or
 * every build would fill a new volume with another copy of node.
 */
const CODE_CACHE_LINE = /^const cache = "[A-Za-z0-9+/=]*";$/m;

/** The runtime volume of a node binary and an agent script, named after their contents. */
export async function runtimeIdentity(nodePath: string, agentScript: string): Promise<{ hash: string; volume: string }> {
  const hash = createHash('sha256');
  hash.update(`${path.basename(nodePath)}\0`);
  for await (const chunk of createReadStream(nodePath)) hash.update(chunk as Buffer);
  hash.update(`${path.basename(agentScript)}\0`);
  hash.update((await readFile(agentScript, 'utf8')).replace(CODE_CACHE_LINE, ''));
  const digest = hash.digest('hex').slice(0, 16);
  return { hash: digest, volume: `slipway-runtime-${digest}` };
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
