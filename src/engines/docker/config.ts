import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { SlipwayError, messageOf } from '../../errors/index.js';
import { templateProblems } from '../templates.js';
import type { AgentTemplate } from '../types.js';
import { registryProblems, registrySchema, resolveRegistries, type RegistryCredentials } from './registries.js';

/**
 * The docker engine's configuration. The zod schema is the user-facing part (what a
 * server configuration file holds, with defaults); the server adds what only it knows
 * (its id, its state folder, the agent runtime) to make a DockerEngineConfig.
 */

/** The name of the template for jobs that name an image no template serves. */
export const IMAGE_TEMPLATE_NAME = 'job-image';

const securityOptionsSchema = z.strictObject({
  /** `docker run --privileged`. */
  privileged: z.boolean().default(false),
  /** Capabilities added, e.g. ["ALL"]. */
  capAdd: z.array(z.string()).default([]),
  /** Capabilities dropped, e.g. ["SYS_RESOURCE"]. */
  capDrop: z.array(z.string()).default([]),
  /** `--security-opt` values, e.g. ["seccomp=unconfined"]. */
  securityOpt: z.array(z.string()).default([]),
});

/** How a container is set up, for templates and for the image template alike. */
const containerFields = {
  /** CPUs reserved and enforced per agent (fractions allowed). */
  cpus: z.number().default(1),
  /** Memory reserved and enforced per agent, MiB (swap included). */
  memoryMiB: z.number().default(1024),
  maxAgents: z.number().default(4),
  idleMinutes: z.number().default(5),
  /** 0: no limit. */
  maxJobsPerAgent: z.number().default(0),
  /** Host attributes the engine's host must offer. */
  attributes: z.record(z.string(), z.string()).default({}),
  /** Environment of every agent, before the launch's own. */
  env: z.record(z.string(), z.string()).default({}),
  /** Admin-defined bind mounts, `host:container[:ro]`. */
  volumes: z.array(z.string()).default([]),
  /** 'host' (agents reach the server at its URL), 'none', 'bridge' or a network's name. */
  network: z.string().min(1).default('host'),
  /** `user[:group]` the agent runs as; null: the image's. */
  user: z.string().min(1).nullable().default(null),
  /** What builds get of Docker: nothing, the host's socket, or a daemon of their own. */
  docker: z.enum(['none', 'socket', 'dind']).default('none'),
  /** `docker: socket` gives builds root on the Docker host; this says you mean it. */
  allowDockerSocket: z.boolean().default(false),
  /** Extra `dockerd` arguments for `docker: dind`. */
  dindArgs: z.array(z.string()).default([]),
  securityOptions: securityOptionsSchema.default({ privileged: false, capAdd: [], capDrop: [], securityOpt: [] }),
};

const templateSchema = z.strictObject({
  /** Unique within the engine: letters, digits, '.', '_', '-'. */
  name: z.string(),
  /** Build labels this template serves. */
  labels: z.array(z.string()).default([]),
  /** The image agents run in; it needs glibc and `sh`, not Node (see docs/docker.md). */
  image: z.string().min(1),
  minIdle: z.number().default(0),
  ...containerFields,
});

const imageTemplateSchema = z.strictObject(containerFields);

const registriesSchema = z.array(registrySchema).default([]);

const tlsSchema = z.strictObject({
  caFile: z.string().min(1),
  certFile: z.string().min(1),
  keyFile: z.string().min(1),
});

/** The user-facing part of the docker engine's configuration; the server config embeds it. */
export const dockerEngineConfigSchema = z
  .strictObject({
    name: z.string().min(1).default('docker'),
    /** The Docker daemon's unix socket; used when `host` is absent. */
    socketPath: z.string().min(1).default('/var/run/docker.sock'),
    /** A remote daemon over TCP (with `tls`); replaces socketPath. */
    host: z.string().min(1).optional(),
    port: z.number().int().positive().default(2376),
    tls: tlsSchema.optional(),
    /** Attributes of the Docker host, added to hostname, os and arch. */
    attributes: z.record(z.string(), z.string()).default({}),
    templates: z.array(templateSchema).default([]),
    /** Credentials for pulls from registries that require them, one entry per registry (see registries.ts). */
    registries: registriesSchema,
    /** Settings for jobs that name an image no template serves; false: such jobs wait. */
    imageTemplate: z.union([z.literal(false), imageTemplateSchema]).default(() => imageTemplateSchema.parse({})),
    /** After `docker stop`'s SIGTERM, how long an agent has to end before SIGKILL, ms. */
    stopGraceMs: z.number().int().nonnegative().default(10_000),
    /** How long an exited agent's container stays (for `docker logs`) after its exit was reported, minutes; 0: removed at once. */
    keepExitedMinutes: z.number().nonnegative().default(10),
  })
  .superRefine((config, ctx) => {
    for (const problem of configProblems(config)) ctx.addIssue({ code: 'custom', message: problem });
  });

export type DockerEngineSettings = z.output<typeof dockerEngineConfigSchema>;
export type DockerTemplate = z.output<typeof templateSchema>;
type ContainerSettings = z.output<typeof imageTemplateSchema>;

/** What the server adds to the settings. */
export type DockerEngineConfig = z.input<typeof dockerEngineConfigSchema> & {
  /** Which server owns the containers: list() shows only this server's. */
  serverId: string;
  /** What agent containers run, put into a volume mounted at /opt/slipway. */
  runtime?: {
    /** A Linux node binary for glibc images. Default: this process's. */
    nodePath?: string;
    /** The agent, one file. Default: dist/agent-bundle/slipway-agent.mjs of this install. */
    agentScript?: string;
  };
  /** How often list() runs to catch exits the event stream missed, ms. Default 5000. */
  pollMs?: number;
  /** Unix ms; injected by tests. Default Date.now. */
  clock?: () => number;
  /** Failures in work nobody awaits (events, clean-up). Default: a process warning. */
  onError?: (error: unknown) => void;
};

/** A template as the engine runs it: the contract's fields plus how to set up its container. */
export type RunTemplate = AgentTemplate & Omit<ContainerSettings, keyof AgentTemplate>;

export type ResolvedConfig = {
  name: string;
  serverId: string;
  connection: { socketPath: string } | { host: string; port: number; tls: { caFile: string; certFile: string; keyFile: string } | null };
  attributes: Record<string, string>;
  templates: RunTemplate[];
  imageTemplate: RunTemplate | null;
  /** Passwords included: never logged. */
  registries: RegistryCredentials[];
  stopGraceMs: number;
  keepExitedMs: number;
  nodePath: string;
  agentScript: string;
  pollMs: number;
  clock: () => number;
  onError: (error: unknown) => void;
};

export const DEFAULT_AGENT_SCRIPT = fileURLToPath(new URL('../../../agent-bundle/slipway-agent.mjs', import.meta.url));

function configProblems(config: DockerEngineSettings): string[] {
  const templates = config.templates.map((template) => toTemplate(template, template.name, template.image));
  const problems = templateProblems(templates);
  if (config.templates.length === 0 && config.imageTemplate === false) {
    problems.push('templates: add at least one agent template, or enable imageTemplate');
  }
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(config.name)) problems.push(`name: '${config.name}' must be letters, digits, '.', '_' or '-' (it is part of container names)`);
  if (config.tls !== undefined && config.host === undefined) problems.push('tls: set host too (tls applies to a TCP connection)');
  problems.push(...registryProblems(config.registries));
  const all: Array<[string, ContainerSettings]> = config.templates.map((template, index) => [`templates[${index}] (${template.name})`, template]);
  if (config.imageTemplate !== false) {
    all.push(['imageTemplate', config.imageTemplate]);
    for (const problem of templateProblems([toTemplate(config.imageTemplate, IMAGE_TEMPLATE_NAME, null)])) problems.push(problem.replace(/^templates\[0\] \(job-image\)/, 'imageTemplate'));
    if (config.templates.some((template) => template.name === IMAGE_TEMPLATE_NAME)) {
      problems.push(`templates: the name '${IMAGE_TEMPLATE_NAME}' is the image template's; choose another`);
    }
  }
  for (const [where, settings] of all) {
    if (settings.docker === 'socket' && !settings.allowDockerSocket) {
      problems.push(
        `${where}.docker: 'socket' mounts the Docker host's socket into build containers, which is root on that host for every build; ` +
          `set allowDockerSocket: true on this template if you accept that, or use docker: 'dind' (a daemon of the build's own)`,
      );
    }
    if (settings.docker === 'socket' && config.host !== undefined) {
      problems.push(`${where}.docker: 'socket' needs the engine to talk to Docker over a unix socket (socketPath), not over TCP (host)`);
    }
    if (settings.docker !== 'dind' && settings.dindArgs.length > 0) problems.push(`${where}.dindArgs: only used with docker: 'dind'`);
    settings.volumes.forEach((volume, i) => {
      const parts = volume.split(':');
      const [source = '', target = '', mode] = parts;
      if (parts.length < 2 || parts.length > 3 || !path.isAbsolute(target) || source === '' || (mode !== undefined && !/^(ro|rw)$/.test(mode))) {
        problems.push(`${where}.volumes[${i}]: '${volume}' must be 'host-path-or-volume:/container/path' with an optional ':ro' or ':rw'`);
      }
    });
  }
  return problems;
}

function toTemplate(settings: ContainerSettings & { labels?: string[]; minIdle?: number }, name: string, image: string | null): RunTemplate {
  return {
    ...settings,
    name,
    labels: [...(settings.labels ?? [])],
    minIdle: settings.minIdle ?? 0,
    image,
    attributes: { ...settings.attributes },
  };
}

/** Validates and fills defaults, throwing CONFIG_INVALID with the full list of what to fix. */
export function resolveConfig(input: DockerEngineConfig): ResolvedConfig {
  const { serverId, runtime, pollMs, clock, onError, ...user } = input;
  const parsed = dockerEngineConfigSchema.safeParse(user);
  const name = typeof user.name === 'string' ? user.name : 'docker';
  const problems = parsed.success ? [] : parsed.error.issues.map((issue) => (issue.path.length > 0 ? `${issue.path.join('.')}: ${issue.message}` : issue.message));
  if (serverId === '') problems.push('serverId: must not be empty');
  // Read even when other options are wrong, so that one start lists every problem.
  const entries = registriesSchema.safeParse(user.registries);
  const registries = entries.success ? resolveRegistries(entries.data) : { credentials: [], problems: [] };
  problems.push(...registries.problems);
  if (!parsed.success || problems.length > 0) {
    throw new SlipwayError('CONFIG_INVALID', `engine '${name}' is misconfigured:\n  - ${problems.join('\n  - ')}`, { details: problems });
  }
  const settings = parsed.data;
  return {
    name: settings.name,
    serverId,
    connection:
      settings.host === undefined
        ? { socketPath: settings.socketPath }
        : { host: settings.host, port: settings.port, tls: settings.tls ?? null },
    attributes: { ...settings.attributes },
    templates: settings.templates.map((template) => toTemplate(template, template.name, template.image)),
    imageTemplate: settings.imageTemplate === false ? null : toTemplate(settings.imageTemplate, IMAGE_TEMPLATE_NAME, null),
    registries: registries.credentials,
    stopGraceMs: settings.stopGraceMs,
    keepExitedMs: settings.keepExitedMinutes * 60_000,
    nodePath: runtime?.nodePath ?? process.execPath,
    agentScript: runtime?.agentScript ?? DEFAULT_AGENT_SCRIPT,
    pollMs: pollMs ?? 5000,
    clock: clock ?? Date.now,
    onError: onError ?? ((error: unknown) => process.emitWarning(`engine '${settings.name}': ${messageOf(error)}`)),
  };
}

/** The contract's view of a template: exactly AgentTemplate's fields. */
export function publicTemplate(template: RunTemplate): AgentTemplate {
  const { name, labels, cpus, memoryMiB, maxAgents, minIdle, idleMinutes, maxJobsPerAgent, attributes, image } = template;
  return { name, labels: [...labels], cpus, memoryMiB, maxAgents, minIdle, idleMinutes, maxJobsPerAgent, attributes: { ...attributes }, image };
}
