import type { ServiceSpec } from '../pipeline/index.js';

/**
 * The Engine contract: what Slipway needs from any infrastructure that can run build
 * agents — the Mesos "task" contract. An engine starts an agent with a command and an
 * environment, reports when it ends, stops it, and lists what it started.
 *
 * Order of calls and guarantees (every engine passes the conformance suite in
 * test/engines/conformance.ts that checks them):
 *  - The server records its intent (store.engineLaunches) before calling launch(), so
 *    that a crash between the two leaves a trace to reconcile.
 *  - launch() resolves once the engine has accepted the task (the process or container
 *    exists); the agent inside then connects to the server on its own. It rejects with
 *    ENGINE_UNAVAILABLE when the engine cannot start anything now, and with USAGE when
 *    the spec names a template the engine does not have (the message lists the ones it
 *    has) or an agent name it cannot use.
 *  - Every engine starts the agent as `agent --server <url> --name <agentName> ...` with
 *    the token in the environment (SLIPWAY_AGENT_TOKEN), never in its arguments, plus
 *    SLIPWAY_ENGINE_NAME, SLIPWAY_ENGINE_TASK_ID and the spec's env.
 *  - stop(taskId) is idempotent: it succeeds for a task that already ended, was stopped
 *    before, or never fully started (a launch that half failed), and for an unknown id.
 *    It resolves when the task has ended (after a grace period, the task is killed) and
 *    with it every process the agent's jobs started: a container's die with it; the local
 *    engine kills the process groups the agent recorded. The agent takes the engine's
 *    SIGTERM as "stop now" (it ends its jobs, withholding their results, and exits), so a
 *    stop of a busy agent does not wait out the grace period, and its attempts are lost
 *    (agent_lost) on every engine alike.
 *  - list() returns every task this engine started for this server (`serverId`) that has
 *    not been removed, including ones started before a server restart — found from the
 *    infrastructure itself (container labels, process markers), never from memory — so
 *    the server can adopt the tasks its store knows and stop the others.
 *  - onTaskEvent() listeners hear each task's transition to `exited` exactly once per
 *    engine instance, in any order relative to stop() resolving. Listeners must not throw.
 *    A transition is one the instance saw: a task it launched, or one list() showed it
 *    running (adopted) — a task already exited when first listed is only listed so.
 *    Events are not buffered: a listener hears what happens after it subscribed.
 *  - Methods may be called concurrently; close() stops watching (it does not stop tasks).
 *  - Images: a template may name the image its agents run in (container engines); the
 *    launch's `image` replaces it for jobs that name their own. An engine without images
 *    (local) has `image: null` on every template and ignores LaunchSpec.image.
 *    `imageTemplate` is the template an engine uses for a job that names an image but whose
 *    labels no template serves (the job's image replaces the template's); null when the
 *    engine runs no arbitrary images.
 *  - Services (optional, container engines): startServices() starts a job attempt's
 *    `services:` as sibling containers reachable from the agent's task (same network
 *    namespace: the job reaches them at 127.0.0.1 and at their alias), resolving when they
 *    run; stopServices(attemptId) removes them and, like stop(), is idempotent. Both are
 *    keyed by the attempt, so a server restart can find them (listServices) and remove the
 *    ones whose attempt ended. stop() of an agent task also removes its services.
 */

/** A kind of agent an engine can start: which labels it serves and what it gets. */
export type AgentTemplate = {
  /** Unique within the engine. */
  name: string;
  /** The build labels this template serves: a job runs here when these include all of the job's labels. */
  labels: string[];
  cpus: number;
  memoryMiB: number;
  /** At most this many agents of this template at once. */
  maxAgents: number;
  /** Agents kept ready even with nothing queued (a warm pool). */
  minIdle: number;
  /** An agent idle this long is stopped. */
  idleMinutes: number;
  /** Jobs one agent runs before it is stopped (1: a fresh agent per job). 0: no limit. */
  maxJobsPerAgent: number;
  /** Host attributes a host must have to run this template. */
  attributes: Record<string, string>;
  /** The image agents of this template run in; null for engines without images (local). */
  image: string | null;
};

/** Room on one host, where the engine knows it. */
export type Offer = {
  host: string;
  cpus: number;
  memoryMiB: number;
  attributes: Record<string, string>;
};

export type LaunchSpec = {
  /** Unique agent name; the agent announces it in `hello` so the server can match it. */
  agentName: string;
  template: string;
  /** The server URL the agent connects to. */
  serverUrl: string;
  /** The agent's token (an agent token issued for this launch). */
  token: string;
  /** Extra environment for the agent process. */
  env: Record<string, string>;
  /** Runs the template with this image instead of its own (the job named an image). Ignored by engines without images. */
  image?: string | null;
};

/** A job attempt's service containers, as startServices returns them. */
export type ServiceTask = {
  /** The engine's id for the service (a container id). */
  id: string;
  image: string;
  /** The names the job reaches the service by (alias, and the image's name). */
  hostnames: string[];
};

export type TaskState = 'starting' | 'running' | 'exited';

export type EngineTask = {
  /** The engine's id for the task (a container id, a process marker). */
  id: string;
  agentName: string;
  template: string;
  state: TaskState;
  startedAt: number;
  exitCode: number | null;
  /** Why it ended, when known: 'stopped' (by stop()), 'exited' (by itself), 'oom', 'lost'. */
  reason: string | null;
};

export type TaskEvent = {
  taskId: string;
  agentName: string;
  state: 'exited';
  exitCode: number | null;
  reason: string | null;
};

export type Engine = {
  /** Unique among the server's engines (`local`, `docker-east`...). */
  readonly name: string;
  readonly kind: 'local' | 'docker' | 'swarm';
  readonly templates: readonly AgentTemplate[];
  /** The template for jobs that name an image no template serves, or null (see the contract). */
  readonly imageTemplate: AgentTemplate | null;
  capacity(): Promise<Offer[]>;
  launch(spec: LaunchSpec): Promise<{ taskId: string }>;
  stop(taskId: string): Promise<void>;
  list(): Promise<EngineTask[]>;
  onTaskEvent(listener: (event: TaskEvent) => void): () => void;
  /** Starts an attempt's services beside the agent task; absent when the engine has none. */
  startServices?(input: { taskId: string; attemptId: number; services: readonly ServiceSpec[] }): Promise<ServiceTask[]>;
  /** Removes an attempt's services; idempotent. */
  stopServices?(attemptId: number): Promise<void>;
  /** Every service task this engine runs for this server, found from the infrastructure (labels). */
  listServices?(): Promise<Array<{ id: string; attemptId: number; agentName: string; startedAt: number }>>;
  close(): Promise<void>;
};
