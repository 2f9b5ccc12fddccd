/**
 * The engine manager (docs/engines.md): creates the configured engines, reconciles what
 * they run with the store at start-up, launches agents for waiting jobs and stops idle ones.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { Engine } from '../../engines/index.js';
import { messageOf } from '../../errors/index.js';
import type { Store } from '../../store/index.js';
import type { AgentServer } from '../agents/index.js';
import type { BuildController } from '../builds/index.js';
import type { ServerConfig } from '../config/index.js';
import { createEngines, serverIdOf } from './engines.js';
import { startProvisioning, type Provisioner } from './manager.js';

export { defaultAgentCommand, serverIdOf, type EngineConfig } from './engines.js';
export { startProvisioning, type Provisioner, type ProvisioningOptions } from './manager.js';
export { createFleet, type CapacitySample, type EngineView, type Fleet, type FleetAgent, type FleetAgentState, type ProvisionedAgent, type TemplateCounts } from './fleet.js';

/** The running engine manager, with the engines it drives. */
export type EngineManager = Provisioner & { readonly engines: readonly Engine[] };

/** Creates the engines of the configuration and starts their manager. */
export async function startEngineManager(input: {
  config: ServerConfig;
  store: Store;
  agents: AgentServer;
  builds: BuildController;
  registry: Registry;
  logger: Logger;
  publicUrl: string;
  /** The server's environment, from its entry point. */
  baseEnv: Readonly<Record<string, string | undefined>>;
}): Promise<EngineManager> {
  const serverId = await serverIdOf(input.config.home);
  const engines = await createEngines({ config: input.config, serverId, baseEnv: input.baseEnv, onError: (error) => input.logger.error({ err: messageOf(error) }, 'engine failed') });
  try {
    const { reconcileIntervalMs, leakGraceMs, connectTimeoutMs } = input.config.provisioning;
    const provisioner = await startProvisioning({
      store: input.store,
      engines,
      agents: input.agents,
      builds: input.builds,
      registry: input.registry,
      logger: input.logger,
      publicUrl: input.publicUrl,
      reconcileIntervalMs,
      leakGraceMs,
      connectTimeoutMs,
    });
    return { ...provisioner, engines: engines.map(({ engine }) => engine) };
  } catch (error) {
    for (const { engine } of engines) await engine.close();
    throw error;
  }
}
