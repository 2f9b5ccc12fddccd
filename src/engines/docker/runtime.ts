import { createHash, randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { Header } from 'tar';
import { SlipwayError, messageOf } from '../../errors/index.js';
import { demux, unlessGone } from './client.js';
import { LABEL } from './labels.js';

/**
 * The agent runtime: a node binary and the agent script, in a docker volume that agent
 * containers mount read-only at /opt/slipway, so build images need no Node — and no
 * file of the server's host is mounted, so a remote (tcp) daemon works alike. The volume
 * is named after the files' contents, and filled through a container of the launch's
 * image (which is on the host by then).
 *
 * Several servers (engine instances) may find a volume unfilled at once and fill it
 * together: each copies the files into a staging folder of its own in the volume, then
 * starts the container once, to run the runtime's node on a script that renames them into
 * place and writes the completion marker last. A rename replaces a file atomically and
 * every filler writes the same bytes, so an agent that starts once the marker is there
 * finds whole files, whichever filler is still at work.
 */
export const RUNTIME_DIR = '/opt/slipway';
/** Written after the files: a volume without it is filled (again). */
const COMPLETE = '.complete';
const STAGING_PREFIX = '.fill-';

/**
 * Run by the runtime's node in the fill container: argv is the volume's folder, the
 * staging folder's name, the script's name and the hash. Staging folders an hour old are
 * what fills that died left behind (a fill takes seconds).
 */
const PLACE = `
const fs = require('node:fs');
const [dir, staging, script, hash] = process.argv.slice(1);
const from = dir + '/' + staging;
for (const name of fs.readdirSync(dir)) {
  if (!name.startsWith('${STAGING_PREFIX}') || name === staging) continue;
  // Gone already, when another filler has just finished with it.
  const found = fs.statSync(dir + '/' + name, { throwIfNoEntry: false });
  if (found !== undefined && Date.now() - found.mtimeMs > 3600000) fs.rmSync(dir + '/' + name, { recursive: true, force: true });
}
fs.renameSync(from + '/node', dir + '/node');
fs.renameSync(from + '/' + script, dir + '/' + script);
fs.writeFileSync(from + '/${COMPLETE}', hash + '\\n');
fs.renameSync(from + '/${COMPLETE}', dir + '/${COMPLETE}');
fs.rmdirSync(from);
`;

export type Runtime = { volume: string; nodePath: string; scriptPath: string };

export function agentRuntime(docker: Docker, options: { engineName: string; nodePath: string; agentScript: string }) {
  const scriptName = path.basename(options.agentScript);
  let identity: Promise<{ hash: string; volume: string }> | null = null;
  const prepared = new Map<string, Promise<void>>();
  // One per engine instance, whose fills of a volume never overlap: a fill that fails (an
  // image without glibc cannot run the node) leaves one staging copy, not one per try.
  const staging = `${STAGING_PREFIX}${randomBytes(8).toString('hex')}`;

  async function fill(volume: string, hash: string, image: string): Promise<void> {
    if ((await unlessGone(docker.getVolume(volume).inspect())) === null) {
      // Another server creating it meanwhile is no error: Docker hands back the volume it has.
      await docker.createVolume({ Name: volume, Labels: { [LABEL.kind]: 'runtime', [LABEL.runtime]: hash } });
    }
    const helper = await docker.createContainer({
      name: `slipway-runtime-${hash}-${randomBytes(4).toString('hex')}`,
      Image: image,
      // Root whatever the image's user: the volume's files are root's.
      User: '0:0',
      Entrypoint: [`${RUNTIME_DIR}/${staging}/node`],
      Cmd: ['-e', PLACE, RUNTIME_DIR, staging, scriptName, hash],
      Labels: { [LABEL.kind]: 'runtime' },
      HostConfig: { NetworkMode: 'none', Binds: [`${volume}:${RUNTIME_DIR}`] },
    });
    try {
      const done = await unlessGone(helper.getArchive({ path: `${RUNTIME_DIR}/${COMPLETE}` }));
      if (done !== null) {
        done.resume();
        return;
      }
      await helper.putArchive(
        tarOf([
          { name: `${staging}/node`, file: options.nodePath, mode: 0o755 },
          { name: `${staging}/${scriptName}`, file: options.agentScript, mode: 0o644 },
        ]),
        { path: RUNTIME_DIR },
      );
      const failed = (what: string, cause?: unknown) =>
        new SlipwayError(
          'ENGINE_UNAVAILABLE',
          `engine '${options.engineName}': the container that fills the agent runtime volume ${volume} with image ${image} ${what}; the image needs glibc (and the node binary must suit the Docker host) to run the runtime's node (see docs/docker.md)`,
          cause === undefined ? {} : { cause },
        );
      try {
        await helper.start();
      } catch (error) {
        throw failed(`could not start (${messageOf(error)})`, error);
      }
      const { StatusCode: status } = (await helper.wait()) as { StatusCode: number };
      if (status !== 0) {
        const output = demux((await helper.logs({ stdout: true, stderr: true, follow: false })) as unknown as Buffer);
        throw failed(`exited with code ${status}: ${output.trim().slice(-2000)}`);
      }
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
