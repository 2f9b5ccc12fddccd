import { SlipwayError } from '../errors/index.js';
import type { AgentTemplate, LaunchSpec } from './types.js';

/**
 * The arguments after the program (the `slipway` command, or node and the agent bundle)
 * that start an agent: every engine launches agents with these. The token travels in the
 * environment, never in argv, where every user of the host could read it
 * (/proc/<pid>/cmdline, ps, docker inspect).
 */
export function agentArgs(spec: LaunchSpec, template: AgentTemplate, workDir: string): string[] {
  return [
    'agent',
    '--server', spec.serverUrl,
    '--name', spec.agentName,
    '--labels', template.labels.join(','),
    '--cpus', String(template.cpus),
    '--memory-mib', String(template.memoryMiB),
    '--work-dir', workDir,
  ];
}

/** Agent names become folder and container names: characters that are safe in both. */
export const AGENT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/** Rejects, with USAGE, an agent name an engine cannot use (see AGENT_NAME). */
export function checkAgentName(agentName: string): void {
  if (!AGENT_NAME.test(agentName)) {
    throw new SlipwayError('USAGE', `agent name '${agentName}' must be up to 128 letters, digits, '.', '_' or '-', starting with a letter or digit`);
  }
}
