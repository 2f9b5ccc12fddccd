import type Docker from 'dockerode';
import { SlipwayError } from '../../errors/index.js';
import { AGENT_NAME, checkAgentName } from '../agent-command.js';
import { singleFlight } from '../single-flight.js';
import type { Engine, EngineTask, LaunchSpec, Offer, TaskEvent, TaskState } from '../types.js';
import { daemonFailure, dockerClient, statusOf, unlessGone } from './client.js';
import { IMAGE_TEMPLATE_NAME, publicTemplate, resolveConfig, type DockerEngineConfig, type RunTemplate } from './config.js';
import { agentContainerName, agentContainerOptions } from './container.js';
import { dieEvents } from './events.js';
import { imagePuller } from './images.js';
import { LABEL, labelFilter } from './labels.js';
import { agentRuntime } from './runtime.js';
import { listServices, removeServices, removeServicesOfAgent, startServices, type ServicesContext } from './services.js';

/**
 * The `docker` engine: agents are containers on one Docker host. Everything it knows
 * about its tasks is in Docker (container names and labels), so a new engine instance —
 * after a server restart — finds what an earlier one started. See docs/docker.md.
 */

const MIB = 1024 * 1024;
/** How long capacity() trusts the daemon's cpus, memory and host name, ms. */
const HOST_INFO_MS = 60_000;

type HostInfo = { Name: string; NCPU: number; MemTotal: number; OSType: string; Architecture: string };

type Exit = { exitCode: number | null; reason: string | null };

/** A task this instance launched or saw running: its exit is this instance's to report. */
type Watched = { agentName: string; launched: boolean; exitedDuringLaunch: boolean };

type Listed = EngineTask & { finishedAt: number | null };

export function createDockerEngine(input: DockerEngineConfig): Engine {
  const config = resolveConfig(input);
  const { onError } = config;
  const docker: Docker = dockerClient(config.connection);
  const ensureImage = imagePuller(docker, config.name, config.registries);
  const runtime = agentRuntime(docker, { engineName: config.name, nodePath: config.nodePath, agentScript: config.agentScript });
  const services: ServicesContext = { docker, engineName: config.name, serverId: config.serverId, ensureImage, onError };
  const templates = config.templates.map(publicTemplate);
  const imageTemplate = config.imageTemplate === null ? null : publicTemplate(config.imageTemplate);
  const taskPrefix = agentContainerName(config.name, '');
  /** Images launches found on the host. */
  const imagesSeen = new Set<string>();
  /** The daemon's host facts for capacity(), asked for at most every HOST_INFO_MS. */
  let hostInfo: { at: number; info: Promise<HostInfo> } | null = null;

  const watched = new Map<string, Watched>();
  /** Tasks whose `exited` event this instance has sent: at most once each. */
  const announced = new Set<string>();
  /** Tasks already exited when this instance first listed them: removable after keepExitedMinutes too. */
  const foundExited = new Set<string>();
  const stopping = new Set<string>();
  const listeners = new Set<(event: TaskEvent) => void>();
  const stops = singleFlight<void>();
  /** Exited containers' last state, by container id: it no longer changes, and list() runs every pollMs. */
  const finalStates = new Map<string, Docker.ContainerInspectInfo['State']>();
  let closed = false;
  let daemonDown = false;
  let polling = false;

  const events = dieEvents(docker, {
    labels: labelFilter(config.serverId, config.name, `${LABEL.kind}=agent`),
    onDie: (name) => {
      if (!watched.has(name)) return;
      observeExit(name).catch(onError);
    },
    onError: (error) => onError(daemonFailure(config.name, 'follow container events', error)),
  });

  // The backstop: exits the event stream missed, and exited containers past keepExitedMinutes.
  const timer = setInterval(() => {
    if (polling) return;
    polling = true;
    poll()
      .catch((error: unknown) => reportDown(error))
      .finally(() => {
        polling = false;
      });
  }, config.pollMs);
  // Watching must not keep the server alive on its own.
  timer.unref();

  /** Daemon failures as ENGINE_UNAVAILABLE naming what the engine was doing; our own errors pass as they are. */
  async function guard<T>(doing: string, work: Promise<T>): Promise<T> {
    try {
      return await work;
    } catch (error) {
      throw error instanceof SlipwayError ? error : daemonFailure(config.name, doing, error);
    }
  }

  function reportDown(error: unknown): void {
    if (daemonDown) return; // once per outage, not every poll
    daemonDown = true;
    onError(daemonFailure(config.name, 'reach the Docker daemon', error));
  }

  function templateOf(name: string): RunTemplate | undefined {
    if (name === IMAGE_TEMPLATE_NAME && config.imageTemplate !== null) return config.imageTemplate;
    return config.templates.find((candidate) => candidate.name === name);
  }

  function isTaskId(id: string): boolean {
    return id.startsWith(taskPrefix) && AGENT_NAME.test(id.slice(taskPrefix.length));
  }

  function announce(taskId: string, exit: Exit): void {
    const task = watched.get(taskId);
    if (closed || task === undefined || announced.has(taskId)) return;
    if (!task.launched) {
      // launch() has not returned the id yet: it reports the exit when it does.
      task.exitedDuringLaunch = true;
      return;
    }
    announced.add(taskId);
    watched.delete(taskId);
    const event: TaskEvent = { taskId, agentName: task.agentName, state: 'exited', exitCode: exit.exitCode, reason: exit.reason };
    for (const listener of [...listeners]) listener(event);
    if (config.keepExitedMs === 0 && !stopping.has(taskId)) {
      unlessGone(docker.getContainer(taskId).remove({ v: true }), [409]).catch(onError);
    }
  }

  function exitOf(taskId: string, state: Docker.ContainerInspectInfo['State']): Exit {
    return { exitCode: state.ExitCode, reason: stopping.has(taskId) ? 'stopped' : state.OOMKilled ? 'oom' : 'exited' };
  }

  async function observeExit(taskId: string): Promise<void> {
    const info = await unlessGone(docker.getContainer(taskId).inspect());
    if (info === null) {
      // Removed behind our back (stop() reports its own).
      if (!stopping.has(taskId)) announce(taskId, { exitCode: null, reason: 'lost' });
      return;
    }
    if (!info.State.Running && info.State.Status !== 'created') announce(taskId, exitOf(taskId, info.State));
  }

  async function launch(spec: LaunchSpec): Promise<{ taskId: string }> {
    if (closed) throw new SlipwayError('ENGINE_UNAVAILABLE', `engine '${config.name}' is closed`);
    const template = templateOf(spec.template);
    if (template === undefined) {
      const known = [...config.templates.map((candidate) => candidate.name), ...(config.imageTemplate === null ? [] : [IMAGE_TEMPLATE_NAME])];
      throw new SlipwayError('USAGE', `engine '${config.name}' has no agent template '${spec.template}'; it has ${known.map((name) => `'${name}'`).join(', ')}`);
    }
    checkAgentName(spec.agentName);
    const image = spec.image ?? template.image;
    if (image === null || image === '') {
      throw new SlipwayError('USAGE', `engine '${config.name}': template '${IMAGE_TEMPLATE_NAME}' runs the job's own image, and the launch names none`);
    }
    const taskId = agentContainerName(config.name, spec.agentName);
    const origin = spec.image === undefined || spec.image === null ? 'template' : 'job';
    // An image this engine found before is not looked for again (a round trip per launch):
    // the create says when it has gone since.
    const seen = imagesSeen.has(image);
    if (!seen) await guard(`find image ${image}`, ensureImage(image, origin));
    const mounted = await guard(`prepare the agent runtime volume with image ${image}`, runtime.ensure(image));
    imagesSeen.add(image);
    const options = agentContainerOptions({
      taskId,
      engineName: config.name,
      serverId: config.serverId,
      spec,
      template,
      image,
      runtime: mounted,
      socketPath: 'socketPath' in config.connection ? config.connection.socketPath : null,
    });
    let container: Docker.Container;
    try {
      container = await docker.createContainer(options).catch(async (error: unknown) => {
        if (!seen || statusOf(error) !== 404) throw error;
        imagesSeen.delete(image);
        await guard(`find image ${image}`, ensureImage(image, origin));
        imagesSeen.add(image);
        return docker.createContainer(options);
      });
    } catch (error) {
      if (error instanceof SlipwayError) throw error;
      if (statusOf(error) === 409) {
        throw new SlipwayError('USAGE', `engine '${config.name}': a container named ${taskId} exists already; agent names must be unique`, { cause: error });
      }
      throw daemonFailure(config.name, `create the container of agent ${spec.agentName}`, error);
    }
    const task: Watched = { agentName: spec.agentName, launched: false, exitedDuringLaunch: false };
    watched.set(taskId, task);
    try {
      await container.start();
    } catch (error) {
      watched.delete(taskId);
      // A container that never ran would only confuse list(): remove it now.
      await unlessGone(container.remove({ force: true, v: true }), [409]).catch(onError);
      throw daemonFailure(config.name, `start the container of agent ${spec.agentName} (image ${image})`, error);
    }
    task.launched = true;
    if (task.exitedDuringLaunch) await observeExit(taskId);
    return { taskId };
  }

  async function stopTask(taskId: string): Promise<void> {
    const container = docker.getContainer(taskId);
    const agentName = taskId.slice(taskPrefix.length);
    const info = await unlessGone(container.inspect());
    const labels = info?.Config.Labels ?? {};
    if (info !== null && (labels[LABEL.server] !== config.serverId || labels[LABEL.engine] !== config.name || labels[LABEL.kind] !== 'agent')) {
      return; // another server's or engine's container that happens to have the name: not ours to stop
    }
    const wasRunning = info !== null && (info.State.Running || info.State.Status === 'created' || info.State.Restarting);
    if (wasRunning) stopping.add(taskId);
    try {
      if (wasRunning) {
        // Docker counts the grace period in whole seconds.
        await unlessGone(container.stop({ t: Math.ceil(config.stopGraceMs / 1000) }), [304]);
      }
      const after = info === null ? null : await unlessGone(container.inspect());
      if (after !== null) announce(taskId, wasRunning ? { exitCode: after.State.ExitCode, reason: 'stopped' } : exitOf(taskId, after.State));
      // The services share the agent's network namespace: they go before it does.
      await removeServicesOfAgent(services, agentName);
      if (info !== null) await unlessGone(container.remove({ force: true, v: true }), [409]);
    } finally {
      stopping.delete(taskId);
      watched.delete(taskId);
      foundExited.delete(taskId);
    }
  }

  async function listTasks(): Promise<Listed[]> {
    const containers = await docker.listContainers({ all: true, filters: { label: labelFilter(config.serverId, config.name, `${LABEL.kind}=agent`) } });
    const tasks: Listed[] = [];
    const exitedIds = new Set<string>();
    for (const summary of containers) {
      const taskId = (summary.Names[0] ?? '').replace(/^\//, '');
      if (!isTaskId(taskId)) continue;
      const state: TaskState = summary.State === 'created' ? 'starting' : ['running', 'paused', 'restarting'].includes(summary.State) ? 'running' : 'exited';
      let exit: Exit | null = null;
      let finishedAt: number | null = null;
      if (state === 'exited') {
        let final = finalStates.get(summary.Id);
        if (final === undefined) {
          const info = await unlessGone(docker.getContainer(summary.Id).inspect());
          if (info === null) continue; // removed meanwhile
          final = info.State;
          finalStates.set(summary.Id, final);
        }
        exitedIds.add(summary.Id);
        exit = exitOf(taskId, final);
        finishedAt = Date.parse(final.FinishedAt);
      }
      tasks.push({
        id: taskId,
        agentName: summary.Labels[LABEL.agent] ?? taskId.slice(taskPrefix.length),
        template: summary.Labels[LABEL.template] ?? '',
        state,
        startedAt: summary.Created * 1000,
        exitCode: exit?.exitCode ?? null,
        reason: exit?.reason ?? null,
        finishedAt,
      });
    }
    for (const id of finalStates.keys()) if (!exitedIds.has(id)) finalStates.delete(id);
    return tasks.sort((a, b) => a.startedAt - b.startedAt);
  }

  /** Lists the tasks, adopting running ones and reporting watched ones that exited. */
  async function observe(): Promise<Listed[]> {
    const tasks = await listTasks();
    daemonDown = false;
    for (const task of tasks) {
      if (task.state !== 'exited') {
        if (!watched.has(task.id) && !announced.has(task.id)) watched.set(task.id, { agentName: task.agentName, launched: true, exitedDuringLaunch: false });
      } else if (watched.get(task.id)?.launched === true) {
        announce(task.id, { exitCode: task.exitCode, reason: task.reason });
      } else if (!watched.has(task.id) && !announced.has(task.id)) {
        foundExited.add(task.id);
      }
    }
    return tasks;
  }

  async function list(): Promise<EngineTask[]> {
    return (await guard('list its containers', observe())).map(({ finishedAt: _finishedAt, ...task }) => task);
  }

  async function poll(): Promise<void> {
    if (closed) return;
    const now = config.clock();
    for (const task of await observe()) {
      if (task.state !== 'exited' || task.finishedAt === null || stopping.has(task.id)) continue;
      const reported = announced.has(task.id) || foundExited.has(task.id);
      if (!reported || now - task.finishedAt < config.keepExitedMs) continue;
      await unlessGone(docker.getContainer(task.id).remove({ v: true }), [409]);
      foundExited.delete(task.id);
    }
  }

  async function capacity(): Promise<Offer[]> {
    let info: HostInfo;
    let tasks: EngineTask[];
    try {
      [info, tasks] = await Promise.all([host(), list()]);
    } catch (error) {
      // No offer while the daemon is away; the other engines go on provisioning.
      reportDown(error);
      return [];
    }
    let cpus = info.NCPU;
    let memoryMiB = Math.floor(info.MemTotal / MIB);
    for (const task of tasks) {
      if (task.state === 'exited') continue;
      // A template removed from the configuration since reserves nothing we could know.
      const template = templateOf(task.template);
      cpus -= template?.cpus ?? 0;
      memoryMiB -= template?.memoryMiB ?? 0;
    }
    const arch = ARCH[info.Architecture] ?? info.Architecture;
    return [{ host: info.Name, cpus: Math.max(0, cpus), memoryMiB: Math.max(0, memoryMiB), attributes: { hostname: info.Name, os: info.OSType, arch, ...config.attributes } }];
  }

  /** `docker info` is the slowest call on the launch path (tens of ms on a busy daemon) and what it says of the host seldom changes. */
  function host(): Promise<HostInfo> {
    const now = Date.now();
    if (hostInfo === null || now - hostInfo.at > HOST_INFO_MS) {
      const asked = { at: now, info: docker.info() as Promise<HostInfo> };
      hostInfo = asked;
      // A failure is not kept: the next call asks again.
      asked.info.catch(() => {
        if (hostInfo === asked) hostInfo = null;
      });
    }
    return hostInfo.info;
  }

  function agentNameOf(taskId: string): string {
    if (!isTaskId(taskId)) throw new SlipwayError('USAGE', `engine '${config.name}' has no task '${taskId}'`);
    return taskId.slice(taskPrefix.length);
  }

  return {
    name: config.name,
    kind: 'docker',
    templates,
    imageTemplate,
    capacity,
    launch,
    list,
    stop(taskId) {
      if (!isTaskId(taskId)) return Promise.resolve(); // not one of ours: nothing to stop
      return stops(taskId, () => guard(`stop task ${taskId}`, stopTask(taskId)));
    },
    onTaskEvent(listener) {
      listeners.add(listener);
      events.want(!closed && listeners.size > 0);
      return () => {
        listeners.delete(listener);
        events.want(!closed && listeners.size > 0);
      };
    },
    async startServices(request) {
      return guard(`start the services of attempt ${request.attemptId}`, startServices(services, { ...request, agentName: agentNameOf(request.taskId) }));
    },
    stopServices: (attemptId) => guard(`remove the services of attempt ${attemptId}`, removeServices(services, attemptId)),
    listServices: () => guard('list its service containers', listServices(services)),
    async close() {
      closed = true;
      listeners.clear();
      events.want(false);
      clearInterval(timer);
    },
  };
}

/** Docker's architecture names, as Node's process.arch (what the local engine offers). */
const ARCH: Record<string, string> = { x86_64: 'x64', aarch64: 'arm64', armv7l: 'arm' };
