import type { Logger } from 'pino';
import { messageOf } from '../../errors/index.js';
import type { JobSpec, ServiceSpec } from '../../pipeline/index.js';
import { matchJobs, type AgentImage, type AgentSlot } from '../../scheduler/index.js';
import type { Store } from '../../store/index.js';
import type { BuildController } from '../builds/index.js';
import { hashToken, newToken } from '../crypto/index.js';
import { buildAssignment, type AssignmentContext } from './assignment.js';
import { send, type Connection } from './connection.js';
import type { AgentMetrics } from './metrics.js';

/**
 * What the engine manager tells the dispatcher about the agents it runs (set once it has
 * started; until then images are ignored and jobs with services fail).
 */
export type EngineHooks = {
  /** Whether jobs' images are honoured: some engine runs images (docs/scheduling.md). */
  images(): boolean;
  /** The image an engine agent runs in, by agent name; null: not an agent of an engine with images. */
  agentImage(name: string): AgentImage | null;
  /**
   * Starts a job attempt's services beside the agent's task and resolves when they run;
   * rejects with a message a user can act on (naming the service and its image, or saying
   * the agent's engine runs no services). The manager removes them when the attempt ends.
   */
  startServices(input: { agentName: string; attemptId: number; services: readonly ServiceSpec[] }): Promise<void>;
};

export type DispatcherOptions = AssignmentContext & {
  store: Store;
  /** The engine manager's hooks, once it runs. */
  engines?: () => EngineHooks | null;
  builds: BuildController;
  connections: () => Iterable<Connection>;
  metrics: AgentMetrics;
  logger: Logger;
  now: () => number;
  /** Hears each assignment sent, and the end of every round that may have left jobs waiting. */
  onAgentEvent?: (event: AgentEvent) => void;
};

/**
 * What the provisioner needs to hear from the agent endpoint: an agent connected or left,
 * was given a job or finished one, and a dispatch round that may have left jobs without an
 * agent. Listeners must not throw.
 */
export type AgentEvent =
  | { type: 'connected' | 'disconnected' | 'assigned' | 'released'; agentId: number; name: string }
  | { type: 'unmatched' };

export type Dispatcher = {
  /** Asks for a round soon; rounds never overlap, and a request during one runs another after it. */
  kick(): void;
  /** Resolves when no round is running (assignments waiting for their services may still be). */
  idle(): Promise<void>;
  /** Resolves when no round is running and no assignment waits for its services. */
  settled(): Promise<void>;
};

/**
 * Matches pending jobs to connected agents' free slots (scheduler.matchJobs) and hands
 * each match out: the attempt (with its token's hash) is recorded by store.attempts.assign
 * before the assignment is sent, and of several servers or rounds racing for a job only
 * the one whose assign succeeds sends it.
 */
export function createDispatcher(options: DispatcherOptions): Dispatcher {
  const { store, logger } = options;
  let running: Promise<void> | null = null;
  let again = false;
  /** Assignments waiting for their services: a round does not wait for them. */
  const starting = new Set<Promise<void>>();

  async function round(): Promise<void> {
    const agents: AgentSlot[] = [];
    const byId = new Map<number, Connection>();
    const hooks = options.engines?.() ?? null;
    for (const connection of options.connections()) {
      if (connection.cut || connection.freeSlots <= 0) continue;
      let cpus = connection.capacity.cpus;
      let memoryMiB = connection.capacity.memoryMiB;
      for (const held of connection.active.values()) {
        cpus -= held.cpus;
        memoryMiB -= held.memoryMiB;
      }
      const image = hooks?.agentImage(connection.name) ?? null;
      agents.push({ id: connection.agentId, labels: connection.labels, freeSlots: connection.freeSlots, freeCpus: cpus, freeMemoryMiB: memoryMiB, image: image?.image ?? null, pinned: image?.pinned ?? false });
      byId.set(connection.agentId, connection);
    }
    // Without agents the pending jobs are not read: the provisioner reads them itself.
    if (agents.length === 0) {
      options.onAgentEvent?.({ type: 'unmatched' });
      return;
    }
    const pending = await store.jobs.listPending({ now: options.now() });
    if (pending.length === 0) return;
    const limits = new Map<number, number | null>();
    for (const projectId of new Set(pending.map((job) => job.projectId))) {
      limits.set(projectId, (await store.projects.get(projectId))?.concurrencyLimit ?? null);
    }
    const queue = pending.map((job) => ({ ...job, queuedAt: job.queuedAt ?? job.createdAt, image: (job.spec as JobSpec).image }));
    const matches = matchJobs({ pending: queue, agents, runningByProject: await store.jobs.countRunningByProject(), concurrencyLimit: limits, images: hooks?.images() ?? false });
    const jobs = new Map(pending.map((job) => [job.id, job]));
    for (const { jobId, agentId } of matches) {
      const connection = byId.get(agentId);
      const job = jobs.get(jobId);
      if (connection === undefined || job === undefined || connection.cut) continue;
      const token = newToken('job');
      const attempt = await store.attempts.assign({ jobId, agentId, tokenHash: hashToken(token) });
      if (attempt === null) continue; // another round or server took it
      options.metrics.attemptsAssigned.inc();
      connection.freeSlots -= 1;
      const spec = job.spec as JobSpec;
      connection.active.set(attempt.id, { cpus: spec.resources.cpus ?? 0, memoryMiB: spec.resources.memoryMiB ?? 0 });
      const hand = async (): Promise<void> => {
        try {
          if (spec.services.length > 0) await startServices(hooks, connection.name, attempt.id, spec.services);
          send(connection, await buildAssignment(options, job, attempt, token));
          logger.info({ jobId, attemptId: attempt.id, agentId }, 'job assigned');
          options.onAgentEvent?.({ type: 'assigned', agentId, name: connection.name });
        } catch (error) {
          logger.error({ jobId, attemptId: attempt.id, agentId, err: messageOf(error) }, 'could not send an assignment');
          connection.active.delete(attempt.id);
          connection.freeSlots += 1;
          const message = error instanceof ServicesFailed ? error.message : `the server could not prepare the job: ${messageOf(error)}`;
          await options.builds.attemptFinished({ attemptId: attempt.id, status: 'failed', failure: { kind: 'system_failure', message }, exitCode: null });
          options.onAgentEvent?.({ type: 'released', agentId, name: connection.name });
        }
      };
      if (spec.services.length === 0) {
        await hand();
        continue;
      }
      // Services take seconds to start (an image pull, minutes): the next assignments do not wait.
      const work = hand().catch((error: unknown) => logger.error({ jobId, attemptId: attempt.id, err: messageOf(error) }, 'could not fail an assignment'));
      starting.add(work);
      void work.finally(() => starting.delete(work));
    }
    if (matches.length < pending.length) options.onAgentEvent?.({ type: 'unmatched' });
  }

  function run(): Promise<void> {
    const current = round()
      .catch((error: unknown) => logger.error({ err: messageOf(error) }, 'dispatch round failed'))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          run();
        }
      });
    running = current;
    return current;
  }

  return {
    kick() {
      if (running !== null) again = true;
      else void run();
    },
    async idle() {
      while (running !== null) await running;
    },
    async settled() {
      while (running !== null || starting.size > 0) await Promise.all([running, ...starting]);
    },
  };
}

/** A job's services could not start: the attempt fails with this message as it is. */
class ServicesFailed extends Error {}

async function startServices(hooks: EngineHooks | null, agentName: string, attemptId: number, services: readonly ServiceSpec[]): Promise<void> {
  const names = services.map((service) => service.alias ?? service.image).join(', ');
  if (hooks === null) {
    throw new ServicesFailed(`the job has services (${names}), which only a docker engine runs; this server has no engine manager yet: run the job again`);
  }
  try {
    await hooks.startServices({ agentName, attemptId, services });
  } catch (error) {
    throw new ServicesFailed(messageOf(error), { cause: error });
  }
}
