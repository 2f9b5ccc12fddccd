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
