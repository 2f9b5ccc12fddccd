import type { Logger } from 'pino';
import { activeLaunchStates, type Store } from '../../store/index.js';
import type { BuildController } from '../builds/index.js';
import type { ManagedEngine } from './engines.js';
import type { ProvisioningMetrics } from './metrics.js';

/** A launch found running at start-up and kept: the agent reconnects to this server on its own. */
export type AdoptedTask = {
  launchId: number;
  engine: string;
  template: string;
  agentName: string;
  taskId: string;
  tokenId: number | null;
  /** The image it was launched with instead of its template's (null: the template's own). */
  image: string | null;
  jobsRun: number;
};

/**
 * Start-up reconciliation, one engine after the other: each task the engine lists whose
 * agent has an active launch row is adopted; every other task is stopped (running ones
 * are orphans of a crash between the engine starting them and the store recording them;
 * exited ones only have their marker removed); a launch row whose task is gone is marked
 * stopped, its token revoked and its agent offline (its running attempts lost).
 */
export async function reconcile(input: {
  store: Store;
  builds: BuildController;
  engines: readonly ManagedEngine[];
  metrics: ProvisioningMetrics;
  logger: Logger;
}): Promise<AdoptedTask[]> {
  const { store, logger } = input;
  const tokens = await activeAgentTokens(store);
  const adopted: AdoptedTask[] = [];
  for (const { engine } of input.engines) {
    const tasks = await engine.list();
    const launches = new Map((await store.engineLaunches.listActive(engine.name)).map((launch) => [launch.agentName, launch]));
    const kept = new Set<string>();
    for (const task of tasks) {
      const launch = launches.get(task.agentName);
      // A launch being stopped when the server went down is stopped now, not adopted.
      if (launch !== undefined && task.state !== 'exited' && launch.state !== 'stopping') {
        kept.add(task.agentName);
        if (launch.engineTaskId !== task.id) await store.engineLaunches.setTaskId(launch.id, task.id);
        await store.engineLaunches.setState({ id: launch.id, from: ['requested'], to: 'launched' });
        adopted.push({
          launchId: launch.id,
          engine: engine.name,
          template: task.template,
          agentName: task.agentName,
          taskId: task.id,
          tokenId: tokens.get(task.agentName) ?? null,
          image: launch.image,
          jobsRun: launch.jobsRun,
        });
        continue;
      }
      await engine.stop(task.id);
      if (launch === undefined && task.state !== 'exited') {
        input.metrics.orphansRemoved.inc({ engine: engine.name });
        input.metrics.leaksRemoved.inc({ engine: engine.name, kind: 'agent' });
        logger.warn({ engine: engine.name, taskId: task.id, agentName: task.agentName }, 'stopped an orphan engine task');
      }
    }
    for (const launch of launches.values()) {
      if (kept.has(launch.agentName)) continue;
      await store.engineLaunches.setState({ id: launch.id, from: activeLaunchStates, to: 'stopped', error: 'its engine task was gone when the server started' });
      const tokenId = tokens.get(launch.agentName);
      if (tokenId !== undefined) await store.tokens.revoke(tokenId);
      await agentGone(store, input.builds, launch.agentName);
    }
  }
  logger.info({ adopted: adopted.length }, 'engines reconciled');
  return adopted;
}

/** Active agent tokens by name: an engine agent's token is named after the agent. */
async function activeAgentTokens(store: Store): Promise<Map<string, number>> {
  const byName = new Map<string, number>();
  for (let cursor: string | null = null; ; ) {
    const page = await store.tokens.list({ kind: 'agent', limit: 500, ...(cursor === null ? {} : { cursor }) });
    for (const token of page.items) if (token.revokedAt === null) byName.set(token.name, token.id);
    cursor = page.nextCursor;
    if (cursor === null) return byName;
  }
}

/**
 * The agent's task is gone: attempts it was running are lost now (retried or failed by
 * the controller) — an offline agent is never declared lost by the liveness check — and
 * the agent is marked offline.
 */
export async function agentGone(store: Store, builds: BuildController, agentName: string): Promise<void> {
  const agent = await store.agents.getByName(agentName);
  if (agent === null) return;
  for (const attempt of await store.attempts.listRunningByAgent(agent.id)) await builds.attemptLost(attempt.id);
  await store.agents.setStatus({ id: agent.id, from: ['online', 'unreachable'], to: 'offline' });
}
