import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { messageOf } from '../../errors/index.js';
import { statusOf } from './client.js';

/**
 * Registry credentials for the engine's pulls (agent, job and service images), one entry
 * per registry, as the Jenkins Docker plugin's registry credentials or GitLab Runner's
 * DOCKER_AUTH_CONFIG. The password comes inline or from a file; it is sent to the daemon
 * only, in the pull's X-Registry-Auth header, and is in no message, log line or label.
 */

/** How Docker Hub is named in `registries` and in messages. */
export const DOCKER_HUB = 'docker.io';
/** What Docker Hub is also called: its index, its API host. */
const HUB_ALIASES = new Set([DOCKER_HUB, 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);
/** The server address the docker CLI sends for Docker Hub. */
const HUB_SERVER_ADDRESS = 'https://index.docker.io/v1/';
/** host[:port], as the first component of an image name. */
const ADDRESS = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?(:[0-9]{1,5})?$/;

export const registrySchema = z.strictObject({
  /** The registry as image names start with it: `host[:port]`; `docker.io` for Docker Hub. */
  address: z.string().min(1),
  username: z.string().min(1),
  /** The password or token, inline; or passwordFile. */
  password: z.string().min(1).optional(),
  /** A file holding the password (a trailing newline is dropped), read when the engine is created. */
  passwordFile: z.string().min(1).optional(),
});

export type RegistrySettings = z.output<typeof registrySchema>;
export type RegistryCredentials = { address: string; username: string; password: string };

/** The registry an image is pulled from, by docker's rule: a first path component with '.' or ':', or 'localhost', names one; Docker Hub otherwise. */
export function registryOf(image: string): string {
  const slash = image.indexOf('/');
  if (slash < 0) return DOCKER_HUB;
  const first = image.slice(0, slash);
  return first.includes('.') || first.includes(':') || first === 'localhost' ? normalAddress(first) : DOCKER_HUB;
}

function normalAddress(address: string): string {
  const lower = address.toLowerCase();
  return HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

function where(index: number, registry: RegistrySettings): string {
  return `registries[${index}] (${registry.address})`;
}

/** What is wrong with the entries, short of reading password files. */
export function registryProblems(registries: readonly RegistrySettings[]): string[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  registries.forEach((registry, index) => {
    if (!ADDRESS.test(registry.address)) {
      problems.push(`${where(index, registry)}.address: give the registry as image names start with it, host[:port] without scheme or path, such as 127.0.0.1:5000, registry.example.com or docker.io`);
    }
    const address = normalAddress(registry.address);
    if (seen.has(address)) problems.push(`${where(index, registry)}.address: another entry has credentials for ${address}; keep one`);
    seen.add(address);
    if ((registry.password === undefined) === (registry.passwordFile === undefined)) {
      problems.push(`${where(index, registry)}: give either password or passwordFile (a file holding it)`);
    }
  });
  return problems;
}

/** The entries with their passwords, read from their files; problems for files that cannot be read. */
export function resolveRegistries(registries: readonly RegistrySettings[]): { credentials: RegistryCredentials[]; problems: string[] } {
  const credentials: RegistryCredentials[] = [];
  const problems: string[] = [];
  registries.forEach((registry, index) => {
    let password = registry.password;
    if (registry.passwordFile !== undefined) {
      try {
        password = readFileSync(registry.passwordFile, 'utf8').replace(/\r?\n$/, '');
        if (password === '') problems.push(`${where(index, registry)}.passwordFile: ${registry.passwordFile} is empty; write the registry's password into it`);
      } catch (error) {
        problems.push(`${where(index, registry)}.passwordFile: cannot read ${registry.passwordFile} (${messageOf(error)}); create it with the registry's password, or fix the path`);
      }
    }
    if (password !== undefined && password !== '') credentials.push({ address: normalAddress(registry.address), username: registry.username, password });
  });
  return { credentials, problems };
}

/** Dockerode's authconfig for a pull from address, or null without credentials for it. */
export function authFor(credentials: readonly RegistryCredentials[], address: string): { username: string; password: string; serveraddress: string } | null {
  const found = credentials.find((candidate) => candidate.address === address);
  if (found === undefined) return null;
  return { username: found.username, password: found.password, serveraddress: address === DOCKER_HUB ? HUB_SERVER_ADDRESS : address };
}

/**
 * Whether a pull failed because the registry refused it. The daemon passes a registry's
 * 401 or 403 on as a 500 (or in the progress stream) whose message says so.
 */
export function isRefusal(error: unknown): boolean {
  const status = statusOf(error);
  if (status === 401 || status === 403) return true;
  return /no basic auth credentials|unauthorized|authentication required|access denied|denied: |\b403 forbidden\b|\b401\b/i.test(messageOf(error));
}
