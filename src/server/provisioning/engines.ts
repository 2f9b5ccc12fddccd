import { randomUUID } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createDockerEngine, createLocalEngine, type Engine } from '../../engines/index.js';
import { SlipwayError, messageOf } from '../../errors/index.js';
import type { ServerConfig } from '../config/index.js';

export type EngineConfig = ServerConfig['engines'][number];

/** An engine with what the manager needs to explain its tasks. */
export type ManagedEngine = {
  engine: Engine;
  /** Where a task's output can be read, for the message of a launch that failed. */
  describeTask(taskId: string): string;
};

/** This install's own `slipway` command: the agent the local engine starts by default. */
export function defaultAgentCommand(): string[] {
  // dist/src/server/provisioning/ → the package root's bin/slipway.js
  return [process.execPath, fileURLToPath(new URL('../../../../bin/slipway.js', import.meta.url))];
}

/** The agent bundled into one file by `npm run build`, which docker agents run. */
export function agentBundle(): string {
  // dist/src/server/provisioning/ → dist/agent-bundle/
  return fileURLToPath(new URL('../../../agent-bundle/slipway-agent.mjs', import.meta.url));
}

/**
 * The server's stable id, in `<home>/server-id`: engines list only the tasks of this id,
 * so two servers sharing a host never adopt or stop each other's agents.
 */
export async function serverIdOf(home: string): Promise<string> {
  const file = path.join(home, 'server-id');
  await mkdir(home, { recursive: true });
  try {
    await writeFile(file, `${randomUUID()}\n`, { flag: 'wx', mode: 0o644 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') {
      throw new SlipwayError('CONFIG_INVALID', `cannot create the server id file ${file}: ${messageOf(error)}; make the home directory writable`, { cause: error });
    }
  }
  const id = (await readFile(file, 'utf8')).trim();
  if (id === '') throw new SlipwayError('CONFIG_INVALID', `the server id file ${file} is empty; remove it and start again (a new id is made)`);
  return id;
}

/**
 * Creates the configured engines; their state lives in `<home>/engines/<name>`. When one
 * cannot be created, the ones made before it are closed and its error is thrown.
 */
export async function createEngines(input: {
  config: ServerConfig;
  serverId: string;
  /** The server's environment, from its entry point: local agents inherit a few variables of it. */
  baseEnv: Readonly<Record<string, string | undefined>>;
  onError: (error: unknown) => void;
}): Promise<ManagedEngine[]> {
  const created: ManagedEngine[] = [];
  try {
    for (const settings of input.config.engines) created.push(createEngine(input, settings));
  } catch (error) {
    for (const { engine } of created) await engine.close();
    throw error;
  }
  return created;
}

function createEngine(input: Parameters<typeof createEngines>[0], settings: ServerConfig['engines'][number]): ManagedEngine {
  const stateDir = path.join(input.config.home, 'engines', settings.name);
  switch (settings.kind) {
    case 'local': {
      const engine = createLocalEngine({
        name: settings.name,
        serverId: input.serverId,
        stateDir,
        agentCommand: settings.agentCommand ?? defaultAgentCommand(),
        templates: settings.templates,
        stopGraceMs: settings.stopGraceMs,
        keepLogMinutes: settings.keepLogMinutes,
        baseEnv: input.baseEnv,
        onError: input.onError,
      });
      // The local engine's task layout (docs/engines.md): the agent's stdout and stderr.
      return { engine, describeTask: (taskId) => `its output is in ${path.join(stateDir, 'tasks', `${taskId}.log`)}` };
    }
    case 'docker': {
      const { kind: _kind, ...docker } = settings;
      const engine = createDockerEngine({
        ...docker,
        serverId: input.serverId,
        // The docker engine keeps no folder: its state is in Docker itself (labels, volumes).
        // Agent containers run this node with the agent bundled into one file (npm run build).
        runtime: { nodePath: process.execPath, agentScript: agentBundle() },
        onError: input.onError,
      });
      // A task id is the container's name; it stays keepExitedMinutes after an exit.
      return { engine, describeTask: (taskId) => `see \`docker logs ${taskId}\`` };
    }
  }
}
