import path from 'node:path';
import { z } from 'zod';
import { SlipwayError, messageOf } from '../../errors/index.js';
import { templateProblems } from '../templates.js';
import type { AgentTemplate } from '../types.js';

/**
 * The local engine's configuration. The zod schema is the user-facing part (what a
 * server configuration file holds, with defaults); the server adds what only it knows
 * (its id, its state folder, how to start an agent) to make a LocalEngineConfig.
 */

const agentTemplateSchema = z.strictObject({
  /** Unique within the engine: letters, digits, '.', '_', '-'. */
  name: z.string(),
  /** Build labels this template serves. */
  labels: z.array(z.string()).default([]),
  /** CPUs reserved per agent (fractions allowed). */
  cpus: z.number().default(1),
  /** Memory reserved per agent, MiB. */
  memoryMiB: z.number().default(1024),
  maxAgents: z.number().default(4),
  minIdle: z.number().default(0),
  idleMinutes: z.number().default(5),
  /** 0: no limit. */
  maxJobsPerAgent: z.number().default(0),
  attributes: z.record(z.string(), z.string()).default({}),
});

/** Local agents run on this host as it is: their templates name no image. */
const localTemplateSchema = agentTemplateSchema.transform((template): AgentTemplate => ({ ...template, image: null }));

/** The one template an engine configured without templates gets: any job without labels. */
export const DEFAULT_TEMPLATE: AgentTemplate = {
  name: 'default',
  labels: [],
  cpus: 1,
  memoryMiB: 1024,
  maxAgents: 4,
  minIdle: 0,
  idleMinutes: 5,
  maxJobsPerAgent: 0,
  attributes: {},
  image: null,
};

/** The user-facing part of the local engine's configuration; the server config embeds it. */
export const localEngineConfigSchema = z
  .strictObject({
    name: z.string().min(1).default('local'),
    /** Decided by the server when absent (its own `slipway agent`). */
    agentCommand: z.array(z.string()).min(1).optional(),
    templates: z.array(localTemplateSchema).default(() => [DEFAULT_TEMPLATE]),
    /** After SIGTERM, how long an agent has to finish before SIGKILL. */
    stopGraceMs: z.number().int().nonnegative().default(10_000),
    /** How long an agent's output log stays after its task is stopped. */
    keepLogMinutes: z.number().nonnegative().default(60),
  })
  .superRefine((config, ctx) => {
    for (const problem of templateProblems(config.templates)) ctx.addIssue({ code: 'custom', message: problem });
  });

export type LocalEngineSettings = z.output<typeof localEngineConfigSchema>;

export type LocalEngineConfig = {
  /** Default 'local'. */
  name?: string;
  /** Which server owns the tasks: list() shows only this server's. */
  serverId: string;
  /** Absolute folder for task markers, agent logs and agents' work folders; one per engine. */
  stateDir: string;
  /** The command that starts an agent; the engine appends `agent --server ...`. */
  agentCommand: readonly string[];
  templates: readonly AgentTemplate[];
  /** Default 10000. */
  stopGraceMs?: number;
  /** Default 60. */
  keepLogMinutes?: number;
  /**
   * The server's environment, from its entry point. Agents start from its PATH, HOME,
   * USER, LANG, LC_ALL, TZ and TMPDIR, then the launch's own — never all of it, since
   * build scripts run in the agent and the server's environment holds its secrets.
   */
  baseEnv: Readonly<Record<string, string | undefined>>;
  /** How often adopted tasks (started by an earlier instance) are checked for exit. Default 1000. */
  livenessPollMs?: number;
  /** Unix ms; injected by tests. Default Date.now. */
  clock?: () => number;
  /** Failures in work nobody awaits (recording an exit, watching adopted tasks). Default: a process warning. */
  onError?: (error: unknown) => void;
};

export type ResolvedConfig = Required<Omit<LocalEngineConfig, 'baseEnv'>> & { baseEnv: Record<string, string> };


const INHERITED_ENV = ['PATH', 'HOME', 'USER', 'LANG', 'LC_ALL', 'TZ', 'TMPDIR'];

/** Fills defaults and checks everything, throwing CONFIG_INVALID with the full list of what to fix. */
export function resolveConfig(config: LocalEngineConfig): ResolvedConfig {
  const problems = templateProblems(config.templates);
  if (config.templates.length === 0) problems.push('templates: add at least one agent template');
  if (config.serverId === '') problems.push('serverId: must not be empty');
  if (!path.isAbsolute(config.stateDir)) problems.push(`stateDir: must be an absolute path, got '${config.stateDir}'`);
  if (config.agentCommand.length === 0 || config.agentCommand[0] === '') problems.push('agentCommand: must name the program that starts an agent');
  const name = config.name ?? 'local';
  if (problems.length > 0) {
    throw new SlipwayError('CONFIG_INVALID', `engine '${name}' is misconfigured:\n  - ${problems.join('\n  - ')}`, { details: problems });
  }
  const baseEnv: Record<string, string> = {};
  for (const key of INHERITED_ENV) {
    const value = config.baseEnv[key];
    if (value !== undefined) baseEnv[key] = value;
  }
  return {
    name,
    serverId: config.serverId,
    stateDir: config.stateDir,
    agentCommand: [...config.agentCommand],
    templates: config.templates.map((template) => ({ ...template, labels: [...template.labels], attributes: { ...template.attributes } })),
    stopGraceMs: config.stopGraceMs ?? 10_000,
    keepLogMinutes: config.keepLogMinutes ?? 60,
    baseEnv,
    livenessPollMs: config.livenessPollMs ?? 1000,
    clock: config.clock ?? Date.now,
    onError: config.onError ?? ((error: unknown) => process.emitWarning(`engine '${name}': ${messageOf(error)}`)),
  };
}
