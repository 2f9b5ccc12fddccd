import { readFileSync } from 'node:fs';
import Docker from 'dockerode';
import { SlipwayError, messageOf } from '../../errors/index.js';
import type { ResolvedConfig } from './config.js';

/** A dockerode client for the configured daemon, and the helpers every part of the engine shares. */
export function dockerClient(connection: ResolvedConfig['connection']): Docker {
  if ('socketPath' in connection) return new Docker({ socketPath: connection.socketPath });
  const tls = connection.tls;
  return new Docker({
    host: connection.host,
    port: connection.port,
    protocol: tls === null ? 'http' : 'https',
    ...(tls === null ? {} : { ca: readFileSync(tls.caFile), cert: readFileSync(tls.certFile), key: readFileSync(tls.keyFile) }),
  });
}

/** The HTTP status of a failed Docker API call, when it came from the daemon. */
export function statusOf(error: unknown): number | null {
  const status = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof status === 'number' ? status : null;
}

/** Runs a call whose "not found" (and, with also, other statuses) means there is nothing to do. */
export async function unlessGone<T>(call: Promise<T>, also: readonly number[] = []): Promise<T | null> {
  try {
    return await call;
  } catch (error) {
    const status = statusOf(error);
    if (status === 404 || (status !== null && also.includes(status))) return null; // gone already: the goal of the call
    throw error;
  }
}

/** ENGINE_UNAVAILABLE for a daemon that failed or could not be reached. */
export function daemonFailure(engineName: string, doing: string, error: unknown): SlipwayError {
  const reach = statusOf(error) === null ? ' (is the Docker daemon running and reachable? check socketPath or host)' : '';
  return new SlipwayError('ENGINE_UNAVAILABLE', `engine '${engineName}' could not ${doing}: ${messageOf(error)}${reach}`, { cause: error });
}

/** The text of a container's multiplexed output (logs, exec without a tty): 8-byte frame headers, then the frame. */
export function demux(stream: Buffer): string {
  const parts: Buffer[] = [];
  for (let at = 0; at + 8 <= stream.length; ) {
    const size = stream.readUInt32BE(at + 4);
    parts.push(stream.subarray(at + 8, at + 8 + size));
    at += 8 + size;
  }
  return Buffer.concat(parts).toString('utf8');
}
