import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { AgentTemplate, Engine } from '../../engines/index.js';
import { SlipwayError, messageOf } from '../../errors/index.js';
import type { JobSpec, ServiceSpec } from '../../pipeline/index.js';
import { matchJobs, planProvisioning, planReaping, runsImages, type AgentImage, type AgentSlot, type EngineAgentState, type PendingJob } from '../../scheduler/index.js';
import type { Store } from '../../store/index.js';
import type { AgentEvent, AgentServer } from '../agents/index.js';
import type { AttemptEnded, BuildController } from '../builds/index.js';
import type { ManagedEngine } from './engines.js';
import type { ProvisionedAgent } from './fleet.js';
import { createProvisioningMetrics, type ProvisioningMetrics } from './metrics.js';
import { reconcile } from './reconcile.js';
import { agentLifecycle, templateIn, type ManagedAgent } from './lifecycle.js';
import { sweepLeaks } from './sweep.js';

export type ProvisioningOptions = {
  store: Store;
  engines: readonly ManagedEngine[];
  agents: AgentServer;
  /** Hears attempts end (services, retiring containers) and fails the attempt of an agent that ran out of memory. */
  builds: BuildController;
  registry: Registry;
  logger: Logger;
  /** The URL launched agents connect to. */
  publicUrl: string;
  now?: () => number;
  /** How often the manager looks at the queue without being poked. Default 500. */
  tickMs?: number;
  /** A launched agent that has not connected after this long is stopped and its launch failed. Default 60000. */
  connectTimeoutMs?: number;
  /** How often engine tasks nobody owns any more are looked for and removed. Default 30000. */
  reconcileIntervalMs?: number;
  /** A task younger than this is never removed as a leak (it may be being recorded). Default 60000. */
  leakGraceMs?: number;
};

export type Provisioner = {
  /** Asks for a tick now (a dispatch round left jobs waiting); ticks never overlap. */
  poke(): void;
  /** Looks for leaked engine tasks now (as the reconcile timer does) and removes them. */
  sweep(): Promise<void>;
  /** Stops the timers and waits for work in progress; agents keep running (a restarted server adopts them). Idempotent. */
  close(): Promise<void>;
  /** The engines' agents now, launched or adopted and not being stopped (their state as of the last tick). */
  agents(): ProvisionedAgent[];
};

const TICK_MS = 500;
// A local agent connects in well under a second; a minute covers a slow host and a cold
// container image without leaving a broken launch holding a slot for long.
const CONNECT_TIMEOUT_MS = 60_000;
// The manager plans with the oldest pending jobs; more than this waiting are seen as others end.
const PENDING_LIMIT = 500;
const RECONCILE_INTERVAL_MS = 30_000;
// A launch is recorded before the engine is asked, so a minute is far more than the gap
// between a task appearing and the manager knowing it; it only guards against races.
const LEAK_GRACE_MS = 60_000;

/**
 * The engine manager: keeps the engines' agents in step with the queue. On start it
 * reconciles what the engines run with the launches the store knows; then each tick
 * (every tickMs, and when poked) it follows the scheduler's order — matchJobs to find the
 * jobs no connected agent will take, planReaping to stop agents idle too long, past
 * maxJobsPerAgent or retired (each drained first, so the dispatcher cannot give it a job
 * while it stops), planProvisioning to launch agents for the jobs left; lifecycle.ts
 * launches, stops and records the end of each agent (every launch recorded, token then
 * store.engineLaunches, before the engine is asked). Every
 * reconcileIntervalMs it removes engine tasks nobody owns (sweep.ts). It also runs jobs'
 * services for the dispatcher (removed when the attempt ends), retires a container agent
 * whose job was canceled or timed out, and fails the attempt of an agent whose container
 * ran out of memory.
 */
export async function startProvisioning(options: ProvisioningOptions): Promise<Provisioner> {
  const { store, logger, agents, builds } = options;
  const now = options.now ?? Date.now;
  const connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  const engines = new Map(options.engines.map((managed) => [managed.engine.name, managed]));
  const managed = new Map<string, ManagedAgent>();
  const inFlight = new Set<Promise<void>>();
  /** Attempts whose services were asked of an engine, by attempt id: removed when the attempt ends. */
  const services = new Map<number, { engine: Engine; agentName: string }>();
  const metrics: ProvisioningMetrics = createProvisioningMetrics(options.registry, function* () {
    for (const agent of managed.values()) if (!agent.stopping) yield { engine: agent.engine, template: agent.template, state: stateOf(agent) };
  });
  // Images are honoured once some engine runs them; with the local engine alone they are ignored.
  const images = runsImages(options.engines.map(({ engine }) => engine));
  let states = new Map<string, { agentId: number; ready: boolean; busy: boolean }>();
  let running: Promise<void> | null = null;
  let again = false;
  let closed = false;
  const { launchAgent, stopAgent, taskExited } = agentLifecycle({ store, builds, agents, logger, metrics, engines, managed, publicUrl: options.publicUrl, now, poke });

  function track(work: Promise<void>, what: string): void {
    const tracked = work.catch((error: unknown) => logger.error({ err: messageOf(error) }, what));
    inFlight.add(tracked);
    void tracked.finally(() => inFlight.delete(tracked));
  }

  function stateOf(agent: ManagedAgent): EngineAgentState {
    const state = states.get(agent.name);
    if (agent.connectedAt === null || state === undefined || !state.ready) return 'provisioning';
    return state.busy ? 'busy' : 'idle';
  }

  function templateOf(agent: Pick<ManagedAgent, 'engine' | 'template'>): AgentTemplate | undefined {
    return templateIn(engines, agent);
  }

  function imageOf(agent: ManagedAgent): AgentImage | null {
    if (!images) return null;
    const image = agent.image ?? templateOf(agent)?.image ?? null;
    return image === null ? null : { image, pinned: agent.image !== null };
  }

  // Before list(): an engine reports the end of tasks it listed only to listeners it has.
  const unsubscribe = options.engines.map(({ engine }) => engine.onTaskEvent((event) => track(taskExited(engine, event), 'recording an agent exit failed')));
  for (const task of await reconcile({ store, builds, engines: options.engines, metrics, logger })) {
    managed.set(task.agentName, {
      launchId: task.launchId,
      engine: task.engine,
      template: task.template,
      name: task.agentName,
      taskId: task.taskId,
      tokenId: task.tokenId,
      launchedAt: now(),
      image: task.image,
      retire: false,
      connectedAt: null,
      adopted: true,
      idleSince: null,
      jobsRun: task.jobsRun,
      stopping: false,
    });
  }
  // An adopted agent that ran its jobs before the restart: no job for it once it reconnects.
  for (const agent of managed.values()) retireIfSpent(agent);
  const stopListening = agents.onAgentEvent(onAgentEvent);
  const stopEnds = builds.onAttemptEnded((ended) => attemptEnded(ended));
  agents.useEngines({
    images: () => images,
    agentImage: (name) => {
      const agent = managed.get(name);
      return agent === undefined ? null : imageOf(agent);
    },
    startServices: (input) => startServices(input.agentName, input.attemptId, input.services),
  });

  function onAgentEvent(event: AgentEvent): void {
    if (event.type === 'unmatched' || event.type === 'connected') return poke();
    const agent = managed.get(event.name);
    if (agent === undefined) return;
    if (event.type === 'assigned') {
      agent.jobsRun += 1;
      agent.idleSince = null;
      track(store.engineLaunches.countJob(agent.launchId).then(() => undefined), 'counting a job of an agent failed');
      // Retired now: the dispatcher would give it the next job the moment this one ends, before a tick reaps it.
      retireIfSpent(agent);
    } else if (event.type === 'released') {
      agent.idleSince = now();
    }
  }

  /** No next job for the agent: drained now, stopped by a tick once it is not busy (planReaping's `retire`). */
  function retire(agent: ManagedAgent): void {
    agent.retire = true;
    track(agents.drain(agent.name).then(() => undefined), 'draining a retired agent failed');
  }

  /** Retires an agent that has run its template's maxJobsPerAgent. */
  function retireIfSpent(agent: ManagedAgent): void {
    const maxJobs = templateOf(agent)?.maxJobsPerAgent ?? 0;
    if (maxJobs > 0 && agent.jobsRun >= maxJobs && !agent.retire) retire(agent);
  }

  async function startServices(agentName: string, attemptId: number, specs: readonly ServiceSpec[]): Promise<void> {
    const agent = managed.get(agentName);
    const engine = agent === undefined ? undefined : engines.get(agent.engine)?.engine;
    const names = specs.map((spec) => spec.image).join(', ');
    if (agent === undefined || engine === undefined || engine.startServices === undefined || agent.taskId === null) {
      const where = agent === undefined || engine === undefined ? `agent ${agentName} was not launched by an engine` : `agent ${agentName} runs on the ${engine.kind} engine '${engine.name}'`;
      throw new SlipwayError('USAGE', `the job has services (${names}), which only a docker engine runs, and ${where}; give the job labels that only a docker engine's templates serve`);
    }
    services.set(attemptId, { engine, agentName });
    try {
      await engine.startServices({ taskId: agent.taskId, attemptId, services: specs });
    } catch (error) {
      throw new SlipwayError('ENGINE_UNAVAILABLE', `the job's services did not start on engine '${engine.name}': ${messageOf(error)}`, { cause: error });
    }
  }

  /** An attempt ended: its services go; a container agent whose job was canceled or timed out is retired. */
  function attemptEnded(ended: AttemptEnded): void {
    const started = services.get(ended.attemptId);
    if (started !== undefined) {
      services.delete(ended.attemptId);
      const stop = started.engine.stopServices;
      if (stop !== undefined) track(stop.call(started.engine, ended.attemptId), 'removing the services of an attempt failed');
    }
    if (ended.agentId === null || (ended.status !== 'canceled' && ended.failureKind !== 'timeout')) return;
    const name = agents.agentStates().find((state) => state.agentId === ended.agentId)?.name;
    const agent = name === undefined ? undefined : managed.get(name);
    if (agent === undefined || agent.stopping || engines.get(agent.engine)?.engine.kind === 'local') return;
    // What the job started may still run in its container (a canceled step's children): no next job there.
    retire(agent);
    logger.info({ engine: agent.engine, agentName: agent.name, attemptId: ended.attemptId }, 'retiring an engine agent');
    poke();
  }

  async function tick(): Promise<void> {
    const at = now();
    // The agents before the queue: the dispatcher records an assignment in the store before it
    // takes the agent's slot, so a job read as pending below was not yet given to a slot seen
    // free here. Read the other way round, a job just assigned would look unmatched and launch.
    const snapshot = agents.agentStates();
    const names = new Map(snapshot.map((state) => [state.agentId, state.name]));
    const slots: AgentSlot[] = agents.agentSlots().map((slot) => {
      const agent = managed.get(names.get(slot.id) ?? '');
      const image = agent === undefined ? null : imageOf(agent);
      return { ...slot, image: image?.image ?? null, pinned: image?.pinned ?? false };
    });
    states = new Map(snapshot.map((state) => [state.name, state]));
    for (const agent of managed.values()) {
      const state = states.get(agent.name);
      if (agent.connectedAt !== null || agent.stopping || state === undefined || !state.ready) continue;
      agent.connectedAt = at;
      agent.idleSince = state.busy ? null : at;
      await store.engineLaunches.setState({ id: agent.launchId, from: ['requested', 'launched'], to: 'running' });
      if (!agent.adopted) metrics.connectSeconds.observe({ engine: agent.engine, template: agent.template }, (at - agent.launchedAt) / 1000);
      logger.info({ engine: agent.engine, agentName: agent.name, launchMs: at - agent.launchedAt, adopted: agent.adopted }, 'engine agent ready');
    }

    // 1. What the dispatcher will give the connected agents: the rest is unmatched.
    const pending: PendingJob[] = (await store.jobs.listPending({ now: at, limit: PENDING_LIMIT })).map((job) => ({
      ...job,
      queuedAt: job.queuedAt ?? job.createdAt,
      image: (job.spec as JobSpec).image,
    }));
    const limits = new Map<number, number | null>();
    for (const projectId of new Set(pending.map((job) => job.projectId))) limits.set(projectId, (await store.projects.get(projectId))?.concurrencyLimit ?? null);
    const runningByProject = pending.length === 0 ? new Map<number, number>() : await store.jobs.countRunningByProject();
    const matches = pending.length === 0 ? [] : matchJobs({ pending, agents: slots, runningByProject, concurrencyLimit: limits, images });
    const matchedJobs = new Set(matches.map((match) => match.jobId));
    const takenBy = new Set(matches.map((match) => match.agentId));
    for (const job of pending) if (matchedJobs.has(job.id)) runningByProject.set(job.projectId, (runningByProject.get(job.projectId) ?? 0) + 1);

    // 2. Reap: idle too long, ran its jobs, or retired. The agents just matched count as busy.
    const ready = [...managed.values()].filter((agent) => !agent.stopping && stateOf(agent) !== 'provisioning');
    const byLaunch = new Map(ready.map((agent) => [agent.launchId, agent]));
    const reaps = planReaping({
      now: at,
      agents: ready.map((agent) => {
        const agentId = states.get(agent.name)?.agentId ?? null;
        const busy = stateOf(agent) === 'busy' || (agentId !== null && !agent.retire && takenBy.has(agentId));
        return { id: agent.launchId, engine: agent.engine, template: agent.template, busy, idleSince: agent.idleSince, jobsRun: agent.jobsRun, image: agent.image, retire: agent.retire };
      }),
      engines: options.engines.map(({ engine }) => ({ name: engine.name, templates: engine.imageTemplate === null ? engine.templates : [...engine.templates, engine.imageTemplate] })),
    });
    for (const reap of reaps) {
      const agent = byLaunch.get(reap.agentId);
      if (agent === undefined) continue;
      agent.stopping = true;
      if (!(await agents.drain(agent.name))) {
        // A dispatch round gave it a job meanwhile: it stays (a retired one stays drained, to stop once free).
        if (!agent.retire) agents.undrain(agent.name);
        agent.stopping = false;
        continue;
      }
      logger.info({ engine: agent.engine, agentName: agent.name, reason: reap.reason }, 'stopping an engine agent');
      track(stopAgent(agent, { state: 'stopped', error: null }), 'stopping an agent failed');
    }

    // A launch that never connected: its log says why.
    for (const agent of managed.values()) {
      if (agent.stopping || agent.connectedAt !== null || at - agent.launchedAt < connectTimeoutMs || agent.taskId === null) continue;
      agent.stopping = true;
      const where = engines.get(agent.engine)?.describeTask(agent.taskId) ?? '';
      const error = `agent ${agent.name} did not connect to ${options.publicUrl} within ${Math.round(connectTimeoutMs / 1000)} s; ${where}`;
      logger.warn({ engine: agent.engine, agentName: agent.name, taskId: agent.taskId }, 'engine agent did not connect');
      metrics.launches.inc({ engine: agent.engine, template: agent.template, result: 'failed' });
      track(stopAgent(agent, { state: 'failed', error }), 'stopping an agent failed');
    }

    // 3. Provision for the jobs left.
    const unmatched = pending.filter((job) => !matchedJobs.has(job.id));
    if (unmatched.length === 0 && !options.engines.some(({ engine }) => engine.templates.some((template) => template.minIdle > 0))) return;
    const engineStates = [];
    for (const { engine } of options.engines) {
      const agentsOf = [...managed.values()].filter((agent) => agent.engine === engine.name && !agent.stopping);
      engineStates.push({
        name: engine.name,
        templates: engine.templates,
        imageTemplate: engine.imageTemplate,
        offers: await engine.capacity(),
        agents: agentsOf.map((agent) => ({ template: agent.template, state: stateOf(agent), image: agent.image })),
      });
    }
    const launches = planProvisioning({ unmatched, engines: engineStates, runningByProject, concurrencyLimit: limits });
    for (const launch of launches) {
      const engine = engines.get(launch.engine)?.engine;
      if (engine !== undefined && !closed) await launchAgent(engine, launch.template, launch.image, launch.forJobIds);
    }
  }

  let sweeping = false;
  async function sweep(): Promise<void> {
    if (sweeping || closed) return;
    sweeping = true;
    try {
      await sweepLeaks({
        store,
        engines: options.engines,
        metrics,
        logger,
        now: now(),
        graceMs: options.leakGraceMs ?? LEAK_GRACE_MS,
        owns: (engine, agentName) => managed.get(agentName)?.engine === engine,
        servicesInUse: (attemptId) => services.has(attemptId),
      });
    } finally {
      sweeping = false;
    }
  }

  function run(): void {
    running = tick()
      .catch((error: unknown) => logger.error({ err: messageOf(error) }, 'provisioning tick failed'))
      .finally(() => {
        running = null;
        if (again && !closed) {
          again = false;
          run();
        }
      });
  }

  function poke(): void {
    if (closed) return;
    if (running !== null) again = true;
    else run();
  }

  const timer = setInterval(poke, options.tickMs ?? TICK_MS);
  timer.unref();
  const sweepTimer = setInterval(() => track(sweep(), 'removing leaked engine tasks failed'), options.reconcileIntervalMs ?? RECONCILE_INTERVAL_MS);
  sweepTimer.unref();
  poke();

  let closing: Promise<void> | null = null;
  return {
    poke,
    sweep,
    agents: () => [...managed.values()].filter((agent) => !agent.stopping).map((agent) => ({ name: agent.name, engine: agent.engine, template: agent.template, state: stateOf(agent), launchedAt: agent.launchedAt, connectedAt: agent.connectedAt, image: agent.image })),
    close() {
      closing ??= (async () => {
        closed = true;
        clearInterval(timer);
        clearInterval(sweepTimer);
        stopListening();
        stopEnds();
        while (running !== null) await running;
        while (inFlight.size > 0) await Promise.all([...inFlight]);
        for (const stop of unsubscribe) stop();
        for (const { engine } of options.engines) await engine.close();
      })();
      return closing;
    },
  };
}
