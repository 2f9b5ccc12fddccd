import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { docker, removeServerContainers } from '../engines/docker-support.js';
import { waitFor } from '../support/wait.js';
import { openScene, type E2eTarget, type Scene, type SceneOptions } from './scene.js';

/** The docker end-to-end tests run on SQLite: the store is not their subject. */
export const sqlite: E2eTarget = { name: 'sqlite', freshDatabase: async () => ({ url: null, drop: async () => undefined }) };

export type DockerScene = Scene & {
  readonly serverId: string;
  /** Names of this server's containers, filtered by more labels (slipway.kind=agent...); all states. */
  containers(filters?: Record<string, string>): Promise<string[]>;
  /** Waits until none of this server's containers is left, in any state. */
  waitForNoContainers(what: string, deadlineMs?: number): Promise<void>;
};

/**
 * A template for the tests' docker engines: the scene's directory is mounted read-only at
 * the same path, so the agent in the container clones the test's git repositories from it.
 */
export function template(dir: string, fields: Record<string, unknown>): string {
  return JSON.stringify({ image: 'slipway/build:bookworm', cpus: 0.25, memoryMiB: 256, maxAgents: 2, idleMinutes: 0.05, volumes: [`${dir}:${dir}:ro`], ...fields });
}

/** A pipeline file (JSON is YAML) with these jobs. */
export function pipelineFile(jobs: Record<string, Record<string, unknown>>): Record<string, string> {
  return { '.slipway.yml': JSON.stringify(jobs, null, 2) };
}

/** A docker engine entry of the server configuration, as YAML. */
export function dockerEngine(name: string, templates: string[], extra: Record<string, unknown> = {}): string {
  const fields = { kind: 'docker', name, keepExitedMinutes: 0, stopGraceMs: 2000, imageTemplate: false, ...extra };
  return `  - ${JSON.stringify(fields).replace(/}$/, `, "templates": [${templates.join(', ')}]}`)}\n`;
}

/** A scene whose server launches its agents with docker engines; close() also removes any container left. */
export async function openDockerScene(options: SceneOptions & { config: (dir: string) => string }): Promise<DockerScene> {
  const scene = await openScene(sqlite, options);
  const serverId = (await readFile(path.join(scene.dir, 'home', 'server-id'), 'utf8')).trim();
  const closeScene = scene.close;
  const containers = async (filters: Record<string, string> = {}): Promise<string[]> => {
    const args = ['ps', '-a', '--format', '{{.Names}}', '--filter', `label=slipway.server=${serverId}`];
    for (const [key, value] of Object.entries(filters)) args.push('--filter', `label=${key}=${value}`);
    return (await docker(...args)).split('\n').filter((line) => line !== '');
  };
  return Object.assign(scene, {
    serverId,
    // After the processes are gone (the server may be removing containers until then): whatever a failed test left.
    async close() {
      try {
        await closeScene();
      } finally {
        await removeServerContainers(serverId);
      }
    },
    containers,
    async waitForNoContainers(what: string, deadlineMs = 90_000) {
      await waitFor(what, async () => (await containers()).length === 0, deadlineMs).catch(async (error: unknown) => {
        throw new Error(`${(error as Error).message}: left ${(await containers()).join(', ')}\n--- server:\n${scene.server.output()}`, { cause: error });
      });
    },
  });
}

/** A job step printing the engine task (container name) that runs it, from PID 1's environment (never the token). */
export const PRINT_TASK = `tr '\\0' '\\n' < /proc/1/environ | grep '^SLIPWAY_ENGINE_TASK_ID='`;

/** The engine task a job ran in, from its log (see PRINT_TASK). */
export function taskOf(log: string): string {
  const match = /^SLIPWAY_ENGINE_TASK_ID=(\S+)$/m.exec(log);
  if (match?.[1] === undefined) throw new Error(`the job did not print its engine task:\n${log}`);
  return match[1];
}
