import type { ChildProcess } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { SlipwayError, messageOf } from '../../errors/index.js';
import type { Engine, EngineTask, LaunchSpec, Offer, TaskEvent } from '../types.js';
import { resolveConfig, type LocalEngineConfig } from './config.js';
import { isTaskId, markerFiles, newTaskId, type Marker } from './markers.js';
import { GROUP_RECORD_FILE, endRecordedGroups, groupIsOurs, pidStartTime, processRunning, signalGroup, waitGroupGone } from '../../process/index.js';
import { agentArgs, checkAgentName } from '../agent-command.js';
import { singleFlight } from '../single-flight.js';
import { spawnAgent } from './spawn.js';

/**
 * The `local` engine: agents are processes on this host. State lives on disk, in
 * `<stateDir>/tasks/` (one marker and one log per task) and `<stateDir>/work/<agent>/`,
 * so that a new engine instance — after a server restart — finds and adopts what an
 * earlier one started. See docs/engines.md.
 */

/** After SIGKILL, how long the kernel may take to finish a group off before stop() gives up. */
const KILL_CONFIRM_MS = 5000;
const MIB = 1024 * 1024;

type Exit = { exitCode: number | null; reason: string | null };

/** A process this engine instance spawned: it sees the exit itself, with its code. */
type Child = {
  agentName: string;
  process: ChildProcess | null;
  pid: number;
  exit: Exit | null;
  exited: Promise<void>;
  stopping: boolean;
  /** Whether launch() succeeded: only then does anyone know the task id. */
  launched: boolean;
};

export function createLocalEngine(input: LocalEngineConfig): Engine {
  const config = resolveConfig(input);
  if (process.platform !== 'linux') {
    throw new SlipwayError('ENGINE_UNAVAILABLE', `engine '${config.name}': the local engine needs Linux (/proc); this host runs ${process.platform}`);
  }
  const onError = config.onError;
  const markers = markerFiles(path.join(config.stateDir, 'tasks'));
  const children = new Map<string, Child>();
  /** Running tasks an earlier instance started, found by list(): watched by polling. */
  const adopted = new Map<string, Marker>();
  /** Tasks whose `exited` event this instance has sent: at most once each. */
  const announced = new Set<string>();
  const listeners = new Set<(event: TaskEvent) => void>();
  const stops = singleFlight<void>();
  const locks = new Map<string, Promise<void>>();
  let timer: NodeJS.Timeout | null = null;
  let polling = false;
  let closed = false;

  /** Runs marker changes of one task one after another, so a late exit record cannot revive a removed marker. */
  function serial<T>(taskId: string, work: () => Promise<T>): Promise<T> {
    const previous = locks.get(taskId) ?? Promise.resolve();
    const result = previous.then(work);
    // The queue only orders; result carries the outcome to the caller.
    const settled = result.then(() => undefined, () => undefined);
    locks.set(taskId, settled);
    void settled.then(() => {
      if (locks.get(taskId) === settled) locks.delete(taskId);
    });
    return result;
  }

  function announce(taskId: string, agentName: string, exit: Exit): void {
    if (closed || announced.has(taskId)) return;
    announced.add(taskId);
    const event: TaskEvent = { taskId, agentName, state: 'exited', exitCode: exit.exitCode, reason: exit.reason };
    for (const listener of [...listeners]) listener(event);
  }

  function watchAdopted(): void {
    const wanted = !closed && listeners.size > 0 && adopted.size > 0;
    if (wanted && timer === null) {
      timer = setInterval(() => {
        if (polling) return;
        polling = true;
        pollAdopted()
          .catch(onError)
          .finally(() => {
            polling = false;
          });
      }, config.livenessPollMs);
      // Watching must not keep the server alive on its own.
      timer.unref();
    } else if (!wanted && timer !== null) {
      clearInterval(timer);
      timer = null;
    }
  }

  async function pollAdopted(): Promise<void> {
    for (const marker of [...adopted.values()]) {
      if (await processRunning(marker.pid, marker.pidStartTime)) continue;
      adopted.delete(marker.taskId);
      // The exit code is known only when the instance that was its parent recorded it.
      const recorded = (await markers.read(marker.taskId))?.exit ?? null;
      announce(marker.taskId, marker.agentName, recorded ?? { exitCode: null, reason: null });
    }
    watchAdopted();
  }

  async function recordExit(taskId: string, child: Child, code: number | null, signal: NodeJS.Signals | null): Promise<void> {
    const exitCode = code ?? 128 + (signal === null ? 0 : (os.constants.signals[signal] ?? 0));
    child.exit = { exitCode, reason: child.stopping ? 'stopped' : 'exited' };
    const exit = child.exit;
    // Queued behind launch's own marker write, which includes the exit if it came first.
    await serial(taskId, async () => {
      const marker = await markers.read(taskId);
      if (marker !== null && marker.exit === null) await markers.write({ ...marker, exit: { ...exit, exitedAt: config.clock() } });
    });
  }

  async function launch(spec: LaunchSpec): Promise<{ taskId: string }> {
    if (closed) throw new SlipwayError('ENGINE_UNAVAILABLE', `engine '${config.name}' is closed`);
    const template = config.templates.find((candidate) => candidate.name === spec.template);
    if (template === undefined) {
      const known = config.templates.map((candidate) => `'${candidate.name}'`).join(', ');
      throw new SlipwayError('USAGE', `engine '${config.name}' has no agent template '${spec.template}'; it has ${known}`);
    }
    checkAgentName(spec.agentName);
    const taskId = newTaskId();
    const workDir = workDirOf(spec.agentName);
    await mkdir(markers.tasksDir, { recursive: true });
    await mkdir(workDir, { recursive: true });
    await markers.pruneLogs(config.clock() - config.keepLogMinutes * 60_000);

    let resolveExited = (): void => undefined;
    const child: Child = { agentName: spec.agentName, process: null, pid: 0, exit: null, exited: new Promise((resolve) => (resolveExited = resolve)), stopping: false, launched: false };
    const spawned = await spawnAgent({
      engineName: config.name,
      command: config.agentCommand,
      args: agentArgs(spec, template, workDir),
      env: { ...config.baseEnv, ...spec.env, SLIPWAY_AGENT_TOKEN: spec.token, SLIPWAY_ENGINE_NAME: config.name, SLIPWAY_ENGINE_TASK_ID: taskId },
      cwd: workDir,
      logFile: markers.logPath(taskId),
      onExit: (code, signal) => {
        recordExit(taskId, child, code, signal)
          .catch(onError)
          .finally(() => {
            resolveExited();
            if (child.launched) announce(taskId, spec.agentName, child.exit ?? { exitCode: null, reason: null });
          });
      },
    });
    child.process = spawned.child;
    child.pid = spawned.pid;
    children.set(taskId, child);
    try {
      // Null when it has already exited: then its exit is in the marker.
      const startTime = await pidStartTime(spawned.pid);
      await serial(taskId, () =>
        markers.write({
          taskId,
          agentName: spec.agentName,
          template: template.name,
          serverId: config.serverId,
          pid: spawned.pid,
          pidStartTime: startTime,
          startedAt: config.clock(),
          exit: child.exit === null ? null : { ...child.exit, exitedAt: config.clock() },
        }),
      );
    } catch (error) {
      // Without a marker nobody could find this process again: end it now.
      signalGroup(spawned.pid, 'SIGKILL');
      children.delete(taskId);
      throw new SlipwayError('ENGINE_UNAVAILABLE', `engine '${config.name}' cannot record task ${taskId} in ${markers.tasksDir}: ${messageOf(error)}`, { cause: error });
    }
    child.launched = true;
    // It may have exited before the marker was written; its event waited for this.
    if (child.exit !== null) {
      await child.exited;
      announce(taskId, spec.agentName, child.exit);
    }
    return { taskId };
  }

  function workDirOf(agentName: string): string {
    return path.join(config.stateDir, 'work', agentName);
  }

  async function terminate(pid: number): Promise<void> {
    signalGroup(pid, 'SIGTERM');
    if (await waitGroupGone(pid, config.stopGraceMs)) return;
    signalGroup(pid, 'SIGKILL');
    if (await waitGroupGone(pid, KILL_CONFIRM_MS)) return;
    throw new SlipwayError('ENGINE_UNAVAILABLE', `engine '${config.name}': process group ${pid} is still alive after SIGKILL`);
  }

  async function stopTask(taskId: string): Promise<void> {
    const marker = await markers.read(taskId);
    const child = children.get(taskId);
    const ours = marker !== null && marker.serverId === config.serverId ? marker : null;
    const pid = child?.pid ?? ours?.pid;
    if (pid === undefined) return; // unknown, or stopped before
    const startTime = ours?.pidStartTime ?? null;
    const wasRunning = child !== undefined ? child.exit === null : await processRunning(pid, startTime);
    // A pid reused by another process means our group is long gone: never signal it.
    if (wasRunning || (await groupIsOurs(pid, startTime))) {
      if (child !== undefined) child.stopping = true;
      await terminate(pid);
    }
    // Jobs' processes lead groups of their own, out of the agent's: an agent that ended
    // on SIGTERM has ended them, one killed by SIGKILL (or crashed) left them running.
    // The agent keeps a record of them in its work folder (src/process/registry.ts).
    const agentName = child?.agentName ?? ours?.agentName;
    if (agentName !== undefined && !(await endRecordedGroups(path.join(workDirOf(agentName), GROUP_RECORD_FILE), KILL_CONFIRM_MS))) {
      throw new SlipwayError('ENGINE_UNAVAILABLE', `engine '${config.name}': processes of a job of task ${taskId} are still alive after SIGKILL`);
    }
    if (child !== undefined) {
      // Its exit is recorded and announced from the 'exit' event: the process is dead, only
      // Node's reaping is left. The child is unref'd, so hold the event loop meanwhile.
      child.process?.ref();
      try {
        await child.exited;
      } finally {
        child.process?.unref();
      }
      children.delete(taskId);
    } else if (wasRunning && ours !== null) {
      announce(taskId, ours.agentName, { exitCode: null, reason: 'stopped' });
    }
    adopted.delete(taskId);
    watchAdopted();
    // The log stays for keepLogMinutes: an agent that never connected is explained there.
    await serial(taskId, () => markers.remove(taskId));
  }

  async function list(): Promise<EngineTask[]> {
    const tasks: EngineTask[] = [];
    for (const marker of await markers.all()) {
      if (marker.serverId !== config.serverId) continue;
      const child = children.get(marker.taskId);
      let exit: Exit | null = child?.exit ?? marker.exit;
      if (child === undefined) {
        if (exit === null && (await processRunning(marker.pid, marker.pidStartTime))) {
          if (!adopted.has(marker.taskId)) adopted.set(marker.taskId, marker);
        } else {
          exit ??= { exitCode: null, reason: null };
          if (adopted.delete(marker.taskId)) announce(marker.taskId, marker.agentName, exit);
        }
      }
      tasks.push({
        id: marker.taskId,
        agentName: marker.agentName,
        template: marker.template,
        state: exit === null ? 'running' : 'exited',
        startedAt: marker.startedAt,
        exitCode: exit?.exitCode ?? null,
        reason: exit?.reason ?? null,
      });
    }
    watchAdopted();
    return tasks;
  }

  async function capacity(): Promise<Offer[]> {
    let cpus = os.availableParallelism();
    let memoryMiB = Math.floor(os.totalmem() / MIB);
    for (const task of await list()) {
      if (task.state === 'exited') continue;
      // A template removed from the configuration since reserves nothing we could know.
      const template = config.templates.find((candidate) => candidate.name === task.template);
      cpus -= template?.cpus ?? 0;
      memoryMiB -= template?.memoryMiB ?? 0;
    }
    const hostname = os.hostname();
    return [{ host: hostname, cpus: Math.max(0, cpus), memoryMiB: Math.max(0, memoryMiB), attributes: { hostname, os: process.platform, arch: process.arch } }];
  }

  return {
    name: config.name,
    kind: 'local',
    templates: config.templates,
    imageTemplate: null,
    capacity,
    launch,
    list,
    stop(taskId) {
      if (!isTaskId(taskId)) return Promise.resolve(); // not one of ours: nothing to stop
      return stops(taskId, () => stopTask(taskId));
    },
    onTaskEvent(listener) {
      listeners.add(listener);
      watchAdopted();
      return () => {
        listeners.delete(listener);
        watchAdopted();
      };
    },
    async close() {
      closed = true;
      listeners.clear();
      watchAdopted();
    },
  };
}
