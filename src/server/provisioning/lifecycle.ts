import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import type { AgentTemplate, Engine, TaskEvent } from '../../engines/index.js';
import { messageOf } from '../../errors/index.js';
import { activeLaunchStates, type Store } from '../../store/index.js';
import type { AgentServer } from '../agents/index.js';
import type { BuildController } from '../builds/index.js';
import { hashToken, newToken } from '../crypto/index.js';
import type { ManagedEngine } from './engines.js';
import type { ProvisioningMetrics } from './metrics.js';
import { agentGone } from './reconcile.js';

/**
 * The life of one engine agent, once the manager (manager.ts) has decided it: launching
 * it (its token and launch intent recorded before the engine is asked), stopping it, and
 * recording its end — however it ends, its launch ends, its token is revoked and the
 * agent goes offline.
 */

/** An agent an engine runs for this server: launched by this manager, or adopted at start-up. */
export type ManagedAgent = {
  launchId: number;
  engine: string;
  template: string;
  name: string;
  taskId: string | null;
  tokenId: number | null;
  launchedAt: number;
  /** The image it runs in instead of its template's (a job's); null: the template's own. */
  image: string | null;
  /** To be stopped once it is not busy: its container ran a job that was canceled or timed out. */
  retire: boolean;
  /** When it was first seen connected and ready; null while provisioning. */
  connectedAt: number | null;
  adopted: boolean;
  idleSince: number | null;
  jobsRun: number;
  /** Being stopped (reaped, timed out, or exited): no job goes to it and the planners do not count it. */
  stopping: boolean;
};

export type Outcome = { state: 'stopped' | 'failed'; error: string | null };

/** The template an agent was launched from: one of its engine's, or the engine's image template. */
export function templateIn(engines: ReadonlyMap<string, ManagedEngine>, agent: Pick<ManagedAgent, 'engine' | 'template'>): AgentTemplate | undefined {
  const engine = engines.get(agent.engine)?.engine;
  if (engine === undefined) return undefined;
  return engine.templates.find((template) => template.name === agent.template) ?? (engine.imageTemplate?.name === agent.template ? engine.imageTemplate : undefined);
}

export type AgentLifecycleInput = {
  store: Store;
  builds: BuildController;
  agents: AgentServer;
  logger: Logger;
  metrics: ProvisioningMetrics;
  engines: ReadonlyMap<string, ManagedEngine>;
  /** The manager's agents by name: a launch adds one, its end removes it. */
  managed: Map<string, ManagedAgent>;
  publicUrl: string;
  now: () => number;
  /** Asks the manager for a tick: an agent's end frees room. */
  poke: () => void;
};

export type AgentLifecycle = {
  launchAgent(engine: Engine, template: string, image: string | null, forJobIds: number[]): Promise<void>;
  stopAgent(agent: ManagedAgent, outcome: Outcome): Promise<void>;
  taskExited(engine: Engine, event: TaskEvent): Promise<void>;
};

export function agentLifecycle(input: AgentLifecycleInput): AgentLifecycle {
  const { store, builds, agents, logger, metrics, engines, managed, publicUrl, now, poke } = input;
  const templateOf = (agent: Pick<ManagedAgent, 'engine' | 'template'>): AgentTemplate | undefined => templateIn(engines, agent);

  async function launchAgent(engine: Engine, template: string, image: string | null, forJobIds: number[]): Promise<void> {
    const name = `${engine.name}-${template}-${randomBytes(4).toString('hex')}`;
    const token = newToken('agent');
    const tokenRow = await store.tokens.create({ kind: 'agent', name, tokenHash: hashToken(token), scopes: [] });
    // The intent first: a crash before the engine answers leaves a row to reconcile.
    const launch = await store.engineLaunches.create({ engine: engine.name, template, agentName: name, image });
    const agent: ManagedAgent = {
      launchId: launch.id,
      engine: engine.name,
      template,
      name,
      taskId: null,
      tokenId: tokenRow.id,
      launchedAt: now(),
      image,
      retire: false,
      connectedAt: null,
      adopted: false,
      idleSince: null,
      jobsRun: 0,
      stopping: false,
    };
    managed.set(name, agent);
    const fields = { engine: engine.name, template, image, agentName: name, launchId: launch.id, forJobIds };
    let taskId: string;
    try {
      ({ taskId } = await engine.launch({ agentName: name, template, serverUrl: publicUrl, token, env: {}, ...(image === null ? {} : { image }) }));
    } catch (error) {
      logger.error({ ...fields, err: messageOf(error) }, 'engine launch failed');
      metrics.launches.inc({ engine: engine.name, template, result: 'failed' });
      await finish(agent, { state: 'failed', error: messageOf(error) });
      return;
    }
    metrics.launches.inc({ engine: engine.name, template, result: 'launched' });
    agent.taskId = taskId;
    await store.engineLaunches.setTaskId(launch.id, taskId);
    await store.engineLaunches.setState({ id: launch.id, from: ['requested'], to: 'launched' });
    logger.info({ ...fields, taskId }, 'engine agent launched');
  }

  /** Stops the agent's task, then records the outcome. On failure the agent is kept, to be stopped again later. */
  async function stopAgent(agent: ManagedAgent, outcome: Outcome): Promise<void> {
    agent.stopping = true;
    await store.engineLaunches.setState({ id: agent.launchId, from: ['requested', 'launched', 'running'], to: 'stopping' });
    try {
      if (agent.taskId !== null) await engines.get(agent.engine)?.engine.stop(agent.taskId);
    } catch (error) {
      if (!agent.retire) agents.undrain(agent.name);
      agent.stopping = false;
      throw error;
    }
    await finish(agent, outcome);
  }

  /** The agent's task is gone: its launch ends, its token is revoked, the agent is offline. */
  async function finish(agent: ManagedAgent, outcome: Outcome): Promise<void> {
    if (managed.get(agent.name) === agent) managed.delete(agent.name);
    await store.engineLaunches.setState({ id: agent.launchId, from: activeLaunchStates, to: outcome.state, error: outcome.error });
    if (agent.tokenId !== null) await store.tokens.revoke(agent.tokenId);
    await agentGone(store, builds, agent.name);
    agents.undrain(agent.name);
    poke();
  }

  /** A task ended by itself (stop() ends what it stops, and finishes the agent there). */
  async function taskExited(engine: Engine, event: TaskEvent): Promise<void> {
    const agent = managed.get(event.agentName);
    if (agent === undefined || agent.engine !== engine.name || agent.stopping) return;
    agent.stopping = true;
    const clean = event.exitCode === 0 && agent.connectedAt !== null;
    const where = engines.get(engine.name)?.describeTask(event.taskId) ?? '';
    const oom = event.reason === 'oom';
    const memoryMiB = templateOf(agent)?.memoryMiB;
    const outOfMemory = `out of memory: the agent's container exceeded its ${memoryMiB === undefined ? '' : `${memoryMiB} MiB `}limit`;
    const error = clean ? null : oom ? `${outOfMemory}; ${where}` : `agent ${agent.name} exited with code ${event.exitCode ?? 'unknown'}${agent.connectedAt === null ? ' before it connected' : ''}; ${where}`;
    logger[clean ? 'info' : 'warn']({ engine: engine.name, agentName: agent.name, taskId: event.taskId, exitCode: event.exitCode, reason: event.reason }, 'engine agent exited');
    if (oom) {
      // Its attempts fail for the memory now, rather than as lost (finish() loses those of any other exit).
      const known = await store.agents.getByName(agent.name);
      for (const attempt of known === null ? [] : await store.attempts.listRunningByAgent(known.id)) {
        await builds.attemptFinished({ attemptId: attempt.id, status: 'failed', failure: { kind: 'system_failure', message: `${outOfMemory}; give the job less to do or its template more memoryMiB` }, exitCode: null });
      }
    }
    // Removes what the engine keeps of the task (the local engine's marker).
    await engine.stop(event.taskId);
    await finish(agent, { state: clean ? 'stopped' : 'failed', error });
  }

  return { launchAgent, stopAgent, taskExited };
}
