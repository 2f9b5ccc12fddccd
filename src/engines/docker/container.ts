import type Docker from 'dockerode';
import { agentArgs } from '../agent-command.js';
import type { LaunchSpec } from '../types.js';
import type { RunTemplate } from './config.js';
import { LABEL } from './labels.js';
import { RUNTIME_DIR, type Runtime } from './runtime.js';

/**
 * The create options of an agent container. The agent is started by the runtime's node
 * (the image's entrypoint is replaced), with Docker enforcing the template's cpus and
 * memory, and Docker's init as PID 1 so that the processes builds leave behind are reaped.
 */

/** Under /tmp: writable by whichever user the template runs as. */
export const WORK_DIR = '/tmp/slipway-work';
export const DOCKERD_LOG = '/var/log/slipway-dockerd.log';
/** How long a dind container waits for its dockerd before giving up, seconds. */
const DOCKERD_START_S = 60;
const MIB = 1024 * 1024;

/** An agent's container name, which is also its task id. */
export function agentContainerName(engineName: string, agentName: string): string {
  return `slipway-${engineName}-${agentName}`;
}

export type AgentContainer = {
  taskId: string;
  engineName: string;
  serverId: string;
  spec: LaunchSpec;
  template: RunTemplate;
  image: string;
  runtime: Runtime;
  /** The engine's own socket, for `docker: socket`. */
  socketPath: string | null;
};

export function agentContainerOptions(input: AgentContainer): Docker.ContainerCreateOptions {
  const { spec, template, runtime } = input;
  const agent = [runtime.nodePath, runtime.scriptPath, ...agentArgs(spec, template, WORK_DIR)];
  const env = {
    ...template.env,
    ...spec.env,
    SLIPWAY_AGENT_TOKEN: spec.token,
    SLIPWAY_ENGINE_NAME: input.engineName,
    SLIPWAY_ENGINE_TASK_ID: input.taskId,
  };
  const binds = [...template.volumes, `${runtime.volume}:${RUNTIME_DIR}:ro`];
  if (template.docker === 'socket' && input.socketPath !== null) binds.push(`${input.socketPath}:/var/run/docker.sock`);
  const security = template.securityOptions;
  // The docker CLI turns this option into empty masked and read-only path lists itself;
  // the API refuses it as it is.
  const unmaskPaths = security.securityOpt.includes('systempaths=unconfined');
  return {
    name: input.taskId,
    Image: input.image,
    Entrypoint: template.docker === 'dind' ? ['/bin/sh', '-c', dindScript(template.dindArgs), 'slipway-dind'] : [agent[0] ?? ''],
    Cmd: template.docker === 'dind' ? agent : agent.slice(1),
    Env: Object.entries(env).map(([key, value]) => `${key}=${value}`),
    Labels: {
      [LABEL.server]: input.serverId,
      [LABEL.engine]: input.engineName,
      [LABEL.agent]: spec.agentName,
      [LABEL.template]: template.name,
      [LABEL.kind]: 'agent',
    },
    // dind: the inner daemon's storage, an anonymous volume removed with the container.
    ...(template.docker === 'dind' ? { Volumes: { '/var/lib/docker': {} } } : {}),
    ...(template.user === null ? {} : { User: template.user }),
    HostConfig: {
      Init: true,
      NanoCpus: Math.round(template.cpus * 1e9),
      Memory: template.memoryMiB * MIB,
      // Equal to Memory: no swap on top, so the limit is what the scheduler counted.
      MemorySwap: template.memoryMiB * MIB,
      NetworkMode: template.network,
      Binds: binds,
      Privileged: security.privileged,
      CapAdd: security.capAdd,
      CapDrop: security.capDrop,
      SecurityOpt: security.securityOpt.filter((option) => option !== 'systempaths=unconfined'),
      ...(unmaskPaths ? { MaskedPaths: [], ReadonlyPaths: [] } : {}),
    },
  };
}

/** Starts dockerd, waits (bounded) until it answers, then becomes the agent ("$@"). */
function dindScript(dindArgs: readonly string[]): string {
  const args = dindArgs.map(shellQuote).join(' ');
  return [
    `dockerd ${args} >${DOCKERD_LOG} 2>&1 &`,
    'dockerd_pid=$!',
    'tries=0',
    'until docker info >/dev/null 2>&1; do',
    '  tries=$((tries + 1))',
    `  if [ "$tries" -gt ${DOCKERD_START_S * 5} ] || ! kill -0 "$dockerd_pid" 2>/dev/null; then`,
    `    echo "slipway: dockerd did not start (the image needs dockerd and the template the security options dind needs); the end of ${DOCKERD_LOG}:" >&2`,
    `    tail -n 30 ${DOCKERD_LOG} >&2`,
    '    exit 1',
    '  fi',
    '  sleep 0.2',
    'done',
    'exec "$@"',
  ].join('\n');
}

function shellQuote(value: string): string {
  return `'${value.replaceAll("'", "'\\''")}'`;
}
