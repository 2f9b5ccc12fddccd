import type Docker from 'dockerode';
import { SlipwayError, messageOf } from '../../errors/index.js';
import type { ServiceSpec } from '../../pipeline/index.js';
import type { ServiceTask } from '../types.js';
import { statusOf, unlessGone } from './client.js';
import { agentContainerName } from './container.js';
import { execAsRoot } from './exec.js';
import { LABEL, labelFilter } from './labels.js';

/**
 * A job attempt's services: containers in the agent container's network namespace
 * (NetworkMode container:<agent>), so the job reaches them at 127.0.0.1, and at their
 * names through lines the engine adds to the agent's /etc/hosts.
 */

export type ServicesContext = {
  docker: Docker;
  engineName: string;
  serverId: string;
  ensureImage: (image: string, origin: 'template' | 'job') => Promise<void>;
  onError: (error: unknown) => void;
};

/** The names a job reaches a service by: its alias, and its image's name without registry, path or tag (as GitLab does). */
export function serviceHostnames(service: ServiceSpec): string[] {
  const withoutDigest = service.image.split('@')[0] ?? service.image;
  const last = withoutDigest.split('/').pop() ?? withoutDigest;
  const name = last.split(':')[0] ?? last;
  return [...new Set([service.alias, name].filter((value): value is string => value !== null && value !== ''))];
}

/** Marks an attempt's lines in /etc/hosts, so that stopServices can take them out again. */
function hostsMark(attemptId: number): string {
  return `# slipway-attempt-${attemptId}`;
}

export async function startServices(
  context: ServicesContext,
  input: { taskId: string; agentName: string; attemptId: number; services: readonly ServiceSpec[] },
): Promise<ServiceTask[]> {
  const { docker } = context;
  const agent = docker.getContainer(input.taskId);
  const agentInfo = await unlessGone(agent.inspect());
  if (agentInfo === null || !agentInfo.State.Running) {
    throw new SlipwayError('USAGE', `engine '${context.engineName}': task ${input.taskId} is not running, so it cannot have services`);
  }
  const started: ServiceTask[] = [];
  try {
    for (const [index, service] of input.services.entries()) {
      await context.ensureImage(service.image, 'job');
      const container = await docker.createContainer({
        name: `${input.taskId}-service-${input.attemptId}-${index}`,
        Image: service.image,
        Env: Object.entries(service.variables).map(([key, value]) => `${key}=${value}`),
        ...(service.entrypoint === null ? {} : { Entrypoint: service.entrypoint }),
        ...(service.command === null ? {} : { Cmd: service.command }),
        Labels: {
          [LABEL.server]: context.serverId,
          [LABEL.engine]: context.engineName,
          [LABEL.agent]: input.agentName,
          [LABEL.kind]: 'service',
          [LABEL.attempt]: String(input.attemptId),
        },
        HostConfig: { NetworkMode: `container:${agentInfo.Id}` },
      });
      started.push({ id: container.id, image: service.image, hostnames: serviceHostnames(service) });
      await container.start();
    }
    for (const [index, task] of started.entries()) {
      const state = (await docker.getContainer(task.id).inspect()).State;
      if (!state.Running) {
        throw new SlipwayError('USAGE', `service ${index + 1} (${task.image}) exited with code ${state.ExitCode} as soon as it started; check its image, entrypoint, command and variables`);
      }
    }
    const lines = started.map((task) => `127.0.0.1 ${task.hostnames.join(' ')} ${hostsMark(input.attemptId)}`);
    if (lines.length > 0) await execAsRoot(agent, ['sh', '-c', 'printf "%s\\n" "$@" >> /etc/hosts', 'sh', ...lines]);
    return started;
  } catch (error) {
    await removeServices(context, input.attemptId).catch(context.onError);
    if (error instanceof SlipwayError) throw error;
    throw new SlipwayError('ENGINE_UNAVAILABLE', `engine '${context.engineName}' could not start the services of attempt ${input.attemptId}: ${messageOf(error)}`, { cause: error });
  }
}

/** Removes an attempt's service containers and its /etc/hosts lines; idempotent. */
export async function removeServices(context: ServicesContext, attemptId: number): Promise<void> {
  const containers = await removeServiceContainers(context, `${LABEL.attempt}=${attemptId}`);
  const agents = new Set(containers.map((info) => info.Labels[LABEL.agent]).filter((name) => name !== undefined));
  for (const agentName of agents) {
    // A reused agent keeps its container; a later attempt must not find stale names there.
    const agent = context.docker.getContainer(agentContainerName(context.engineName, agentName));
    try {
      await execAsRoot(agent, ['sh', '-c', 'grep -v -- "$1\\$" /etc/hosts > /tmp/.slipway-hosts; cat /tmp/.slipway-hosts > /etc/hosts; rm -f /tmp/.slipway-hosts', 'sh', hostsMark(attemptId)]);
    } catch (error) {
      const status = statusOf(error);
      if (status !== 404 && status !== 409) context.onError(error); // 404, 409: the agent is gone or stopped, and its hosts file with it
    }
  }
}

/** The services of one agent (stop() removes them with it). */
export async function removeServicesOfAgent(context: ServicesContext, agentName: string): Promise<void> {
  await removeServiceContainers(context, `${LABEL.agent}=${agentName}`);
}

/** Removes the service containers with this label (key=value); returns what it found. */
async function removeServiceContainers(context: ServicesContext, label: string): Promise<Docker.ContainerInfo[]> {
  const containers = await context.docker.listContainers({ all: true, filters: { label: labelFilter(context.serverId, context.engineName, `${LABEL.kind}=service`, label) } });
  for (const info of containers) await unlessGone(context.docker.getContainer(info.Id).remove({ force: true, v: true }), [409]);
  return containers;
}

export async function listServices(context: ServicesContext): Promise<Array<{ id: string; attemptId: number; agentName: string; startedAt: number }>> {
  const containers = await context.docker.listContainers({ all: true, filters: { label: labelFilter(context.serverId, context.engineName, `${LABEL.kind}=service`) } });
  return containers.map((info) => ({
    id: info.Id,
    attemptId: Number(info.Labels[LABEL.attempt]),
    agentName: info.Labels[LABEL.agent] ?? '',
    startedAt: info.Created * 1000,
  }));
}
