import os from 'node:os';
import { z } from 'zod';
import { DEFAULT_TEMPLATE, dockerEngineConfigSchema, localEngineConfigSchema, type LocalEngineSettings } from '../../engines/index.js';

const logLevels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

const milliseconds = (what: string) =>
  z.number({ error: `give ${what} as a whole number of milliseconds` }).int({ error: `give ${what} as a whole number of milliseconds` }).min(1, { error: `${what} must be at least 1 ms` });

/** One engine of the server: `kind` picks the engine, the rest are that engine's options. */
const engineConfigSchema = z.discriminatedUnion(
  'kind',
  [localEngineConfigSchema.safeExtend({ kind: z.literal('local') }), dockerEngineConfigSchema.safeExtend({ kind: z.literal('docker') })],
  { error: 'give each engine a kind: local or docker (swarm follows)' },
);

export type EngineConfig = z.output<typeof engineConfigSchema>;

/** The engine a server has when its configuration names none: agents as processes here, one per core at most. */
function defaultLocalEngine(): LocalEngineSettings & { kind: 'local' } {
  return {
    kind: 'local',
    name: 'local',
    templates: [{ ...DEFAULT_TEMPLATE, name: 'default', labels: [], maxAgents: os.availableParallelism(), idleMinutes: 5 }],
    stopGraceMs: 10_000,
    keepLogMinutes: 60,
  };
}

/**
 * The server's configuration: the one schema, with every default. What each option means
 * is in docs/server.md; keep the two in step. Options whose default depends on another
 * (publicUrl, database.url, logs.dir, blobs.dir) are optional here and filled in by
 * loadConfig, which returns a ServerConfig where they are always set.
 */
export const configSchema = z.strictObject({
  home: z.string({ error: 'give home as a directory path' }).min(1, { error: 'give home as a directory path' }).default('./.slipway'),
  listen: z
    .strictObject({
      host: z.string({ error: 'give listen.host as a host name or IP address' }).min(1, { error: 'give listen.host as a host name or IP address' }).default('127.0.0.1'),
      port: z
        .number({ error: 'give listen.port as a whole number from 0 to 65535' })
        .int({ error: 'give listen.port as a whole number from 0 to 65535' })
        .min(0, { error: 'give listen.port as a whole number from 0 to 65535' })
        .max(65535, { error: 'give listen.port as a whole number from 0 to 65535' })
        .default(8080),
    })
    .prefault({}),
  publicUrl: z.url({ protocol: /^https?$/, error: 'give publicUrl as an http:// or https:// URL, such as https://ci.example.com' }).optional(),
  database: z
    .strictObject({
      url: z.string({ error: 'give database.url as sqlite:/path/to/slipway.db or postgres://user:password@host/database' }).min(1, {
        error: 'give database.url as sqlite:/path/to/slipway.db or postgres://user:password@host/database',
      }).optional(),
    })
    .prefault({}),
  /** 32 bytes as base64 or hex; checked by the start-up (crypto.parseSecretsKey), which also makes one when absent. */
  secretsKey: z.string({ error: 'give secretsKey as 32 bytes in base64 (openssl rand -base64 32)' }).optional(),
  logLevel: z.enum(logLevels, { error: `give logLevel as one of ${logLevels.join(', ')}` }).default('info'),
  agents: z
    .strictObject({
      heartbeatIntervalMs: milliseconds('agents.heartbeatIntervalMs').default(10_000),
      unreachableAfterMs: milliseconds('agents.unreachableAfterMs').default(30_000),
      lostAfterMs: milliseconds('agents.lostAfterMs').default(120_000),
      noProgressTimeoutMs: milliseconds('agents.noProgressTimeoutMs').default(3_600_000),
    })
    .prefault({})
    .check((ctx) => {
      const agents = ctx.value;
      if (agents.unreachableAfterMs <= agents.heartbeatIntervalMs) {
        ctx.issues.push({
          code: 'custom',
          input: agents,
          path: ['unreachableAfterMs'],
          message: `must be longer than agents.heartbeatIntervalMs (${agents.heartbeatIntervalMs} ms), or every agent looks unreachable between two heartbeats`,
        });
      }
      if (agents.lostAfterMs <= agents.unreachableAfterMs) {
        ctx.issues.push({
          code: 'custom',
          input: agents,
          path: ['lostAfterMs'],
          message: `must be longer than agents.unreachableAfterMs (${agents.unreachableAfterMs} ms): an agent is unreachable before it is lost`,
        });
      }
    }),
  logs: z.strictObject({ dir: z.string().min(1, { error: 'give logs.dir as a directory path' }).optional() }).prefault({}),
  blobs: z.strictObject({ dir: z.string().min(1, { error: 'give blobs.dir as a directory path' }).optional() }).prefault({}),
  webhooks: z
    .strictObject({
      maxBodyBytes: z
        .number({ error: 'give webhooks.maxBodyBytes as a whole number of bytes' })
        .int({ error: 'give webhooks.maxBodyBytes as a whole number of bytes' })
        .min(1024, { error: 'webhooks.maxBodyBytes must be at least 1024 bytes: push payloads are rarely smaller' })
        .default(1_048_576),
    })
    .prefault({}),
  metrics: z
    .strictObject({
      enabled: z.boolean({ error: 'give metrics.enabled as true or false' }).default(true),
      requireToken: z.boolean({ error: 'give metrics.requireToken as true or false' }).default(false),
    })
    .prefault({}),
  /** The image registry builds push to; its address becomes SLIPWAY_REGISTRY in every job (docs/docker.md). */
  registry: z
    .strictObject({
      address: z
        .string({ error: 'give registry.address as host:port, such as 127.0.0.1:5000 or registry.example.com' })
        .regex(/^[A-Za-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._/-]+)?$/, { error: 'give registry.address as host[:port][/path], such as 127.0.0.1:5000 or registry.example.com/team, without a scheme' }),
    })
    .optional(),
  /** How the engine manager keeps the engines' tasks in step with the store (docs/engines.md). */
  provisioning: z
    .strictObject({
      reconcileIntervalMs: milliseconds('provisioning.reconcileIntervalMs').default(30_000),
      leakGraceMs: z
        .number({ error: 'give provisioning.leakGraceMs as a whole number of milliseconds' })
        .int({ error: 'give provisioning.leakGraceMs as a whole number of milliseconds' })
        .min(0, { error: 'provisioning.leakGraceMs must not be negative' })
        .default(60_000),
      connectTimeoutMs: milliseconds('provisioning.connectTimeoutMs').default(60_000),
    })
    .prefault({}),
  // Each engine's own options are defined and checked by the engines (docs/engines.md);
  // `kind` says which engine an entry configures.
  engines: z
    .array(engineConfigSchema, { error: 'give engines as a list of engines, such as [{ kind: local }]' })
    .default(() => [defaultLocalEngine()])
    .check((ctx) => {
      const seen = new Set<string>();
      ctx.value.forEach((engine, index) => {
        if (seen.has(engine.name)) ctx.issues.push({ code: 'custom', input: engine, path: [index, 'name'], message: `'${engine.name}' names another engine too; give each engine its own name` });
        seen.add(engine.name);
      });
    }),
});

export type ConfigInput = z.input<typeof configSchema>;
type Parsed = z.output<typeof configSchema>;

/** The configuration the server runs with: every default applied, every path absolute. */
export type ServerConfig = Omit<Parsed, 'publicUrl' | 'database' | 'logs' | 'blobs'> & {
  publicUrl: string;
  database: { url: string };
  logs: { dir: string };
  blobs: { dir: string };
};
