/**
 * The Slipway server: configuration, the HTTP API, and startServer, which wires them to the
 * store. See docs/server.md (running it) and docs/api.md (the API).
 */
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import path from 'node:path';
import { destination, pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import { SlipwayError, messageOf } from '../errors/index.js';
import type { BaseEnv } from '../git/index.js';
import { openStore, redactUrl } from '../store/index.js';
import { openFileStores, startAgentServer } from './agents/index.js';
import { ensureSecretsKey, type ServerConfig } from './config/index.js';
import { createBuildController } from './builds/index.js';
import { createEventBus } from './events/index.js';
import { createGitMirrors } from './git/index.js';
import { bootstrapAdminToken, buildApp } from './http/index.js';
import { createFleet, startEngineManager, type EngineManager, type Fleet } from './provisioning/index.js';
import { startRetention } from './retention/index.js';
import { startTriggerTimers } from './triggers/index.js';

export * from './config/index.js';
export { buildApp, routeTable, openApiDocument, bootstrapAdminToken, createToken, type AppOptions, type AnyRoute, type Route, type Scope, type ApiProject } from './http/index.js';

export type RunningServer = {
  /** Where the server listens, with the real port when the configuration said 0. */
  readonly url: string;
  /** Stops taking connections, lets requests in flight finish, closes the store. Idempotent. */
  close(): Promise<void>;
};

export type StartOptions = {
  /** The root logger; a pino logger to stderr at config.logLevel when left out. */
  logger?: Logger;
  /** Where the first-start admin token is printed; stdout when left out. */
  print?: (line: string) => void;
  /** The server process's environment, from its entry point: git (mirrors of project repositories) runs with it. */
  baseEnv: BaseEnv;
};

/** The root logger: JSON lines on stderr (stdout is for what a person must read), tokens redacted. */
export function rootLogger(level: ServerConfig['logLevel']): Logger {
  return pino(
    {
      level,
      redact: { paths: ['req.headers.authorization', 'headers.authorization', 'authorization', 'token', '*.token', 'secretsKey', '*.secretsKey'], censor: '[redacted]' },
    },
    destination(2),
  );
}

/**
 * Starts the server: opens the store (running its migrations), makes sure the secrets key
 * exists, creates the admin token on first start (printed once), builds the app and listens.
 */
export async function startServer(config: ServerConfig, options: StartOptions): Promise<RunningServer> {
  const root = options.logger ?? rootLogger(config.logLevel);
  const logger = root.child({ component: 'server' });
  const print = options.print ?? ((line: string) => void process.stdout.write(`${line}\n`));
  const { key, source } = await ensureSecretsKey(config);
  if (source === 'created') logger.warn({ file: `${config.home}/secrets.key` }, 'created a secrets key; back it up: without it stored secrets cannot be read');
  const store = await openStore({ url: config.database.url, logger: root.child({ component: 'store' }) });
  try {
    const adminToken = await bootstrapAdminToken(store, Date.now());
    if (adminToken !== null) print(`Admin token (shown once): ${adminToken}`);
    const bus = createEventBus(store);
    let jobsQueued = (): void => undefined;
    // A job that became pending gets a dispatch round (and, with no agent for it, a launch) now, not at the next timer tick.
    const events: typeof bus = {
      ...bus,
      notify(list) {
        bus.notify(list);
        if (list.some((event) => event.type === 'job.updated' && event.payload.status === 'pending')) jobsQueued();
      },
    };
    const git = createGitMirrors({ dir: path.join(config.home, 'git'), baseEnv: options.baseEnv });
    const builds = createBuildController({ store, events, git, config, now: Date.now });
    const files = await openFileStores(config);
    const registry = new Registry();
    // The agent endpoint and the engines start after the app listens: the API sees them from then on.
    let fleet: Fleet | null = null;
    const app = buildApp({ config, store, secretsKey: key, logger: root.child({ component: 'http' }), version: packageVersion(), events, builds, git, files: async () => files, registry, fleet: () => fleet });
    try {
      await app.listen({ host: config.listen.host, port: config.listen.port });
    } catch (error) {
      await app.close();
      await files.close();
      throw new SlipwayError('CONFIG_INVALID', `cannot listen on ${config.listen.host}:${config.listen.port}: ${messageOf(error)}; choose another listen address (--listen HOST:PORT)`, { cause: error });
    }
    const address = app.server.address() as AddressInfo;
    const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    const url = `http://${host}:${address.port}`;
    // A public URL with port 0 (the default with --listen HOST:0) names the port actually taken.
    const publicUrl = new URL(config.publicUrl).port === '0' ? url : config.publicUrl;
    logger.info({ url, publicUrl, database: redactUrl(config.database.url) }, 'server listening');
    const agents = startAgentServer({ server: app.server, store, config, secretsKey: key, builds, events, files, registry, logger: root.child({ component: 'agents' }), publicUrl });
    const fleetLog = root.child({ component: 'fleet' });
    const agentFleet = createFleet({ agents, samples: store.capacitySamples, onError: (error) => fleetLog.error({ err: error }, 'capacity sample not stored') });
    fleet = agentFleet;
    const timers = startTriggerTimers({ store, builds, git, logger: root.child({ component: 'triggers' }), now: Date.now });
    const retentionLog = root.child({ component: 'retention' });
    const retention = startRetention({
      store,
      blobs: files.blobs,
      logs: files.logs,
      logsDays: config.retention.logsDays,
      blobGraceMs: config.retention.blobGraceMinutes * 60_000,
      registry,
      intervalMs: config.retention.sweepIntervalMinutes * 60_000,
      now: Date.now,
      onError: (error) => retentionLog.error({ err: error }, 'retention sweep failed'),
    });
    let engines: EngineManager;
    try {
      engines = await startEngineManager({ config, store, agents, builds, registry, logger: root.child({ component: 'engines' }), publicUrl, baseEnv: options.baseEnv });
    } catch (error) {
      await agentFleet.close();
      retention.stop();
      await agents.close();
      await timers.stop();
      events.close();
      await app.close();
      await files.close();
      throw error;
    }
    agentFleet.attach({ engines: engines.engines, provisioner: engines });
    jobsQueued = () => {
      agents.dispatch();
      engines.poke();
    };
    let closing: Promise<void> | undefined;
    return {
      url,
      close() {
        closing ??= (async () => {
          try {
            // The engines' agents keep running: they reconnect to the restarted server, which adopts them.
            retention.stop();
            await agentFleet.close();
            await engines.close();
            await agents.close();
            await timers.stop();
            events.close();
            await app.close();
          } finally {
            await files.close();
            await store.close();
            logger.info({}, 'server stopped');
          }
        })();
        return closing;
      },
    };
  } catch (error) {
    await store.close();
    throw error;
  }
}

function packageVersion(): string {
  return (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;
}
