import { spawn, type ChildProcess } from 'node:child_process';
import { open } from 'node:fs/promises';
import { SlipwayError, messageOf } from '../../errors/index.js';

/**
 * Starts one agent process: the configured command plus `agent --server ...`, as the
 * leader of its own process group (so stop() can end everything it started), with its
 * output appended to a log file. The arguments are ../agent-command.ts's.
 */
export type AgentProcess = { child: ChildProcess; pid: number };

export async function spawnAgent(options: {
  engineName: string;
  command: readonly string[];
  args: readonly string[];
  env: Record<string, string>;
  cwd: string;
  logFile: string;
  /** Called (once) when the process exits; registered before anything else can happen. */
  onExit: (code: number | null, signal: NodeJS.Signals | null) => void;
}): Promise<AgentProcess> {
  const [program, ...prefix] = options.command;
  if (program === undefined) throw new SlipwayError('CONFIG_INVALID', `engine '${options.engineName}': agentCommand is empty`);
  const log = await open(options.logFile, 'a');
  try {
    const child = spawn(program, [...prefix, ...options.args], {
      cwd: options.cwd,
      env: options.env,
      detached: true,
      stdio: ['ignore', log.fd, log.fd],
    });
    child.once('exit', options.onExit);
    await new Promise<void>((resolve, reject) => {
      child.once('spawn', resolve);
      child.once('error', reject);
    });
    // Later 'error' events only concern child.kill(), which the engine never uses: it
    // signals process groups itself.
    child.on('error', () => undefined);
    // The server may exit while its agents run on; a restarted server adopts them.
    child.unref();
    if (child.pid === undefined) throw new Error('the process started without a pid');
    return { child, pid: child.pid };
  } catch (error) {
    throw spawnFailure(options.engineName, program, error);
  } finally {
    // The child holds its own copy of the descriptor.
    await log.close();
  }
}

function spawnFailure(engineName: string, program: string, error: unknown): SlipwayError {
  const code = (error as NodeJS.ErrnoException).code;
  const fix = `set agentCommand of engine '${engineName}' to a program that starts a Slipway agent, such as [node, /path/to/bin/slipway.js]`;
  const what =
    code === 'ENOENT' ? `'${program}' does not exist`
    : code === 'EACCES' ? `'${program}' is not executable by this user`
    : `'${program}' failed to start: ${messageOf(error)}`;
  return new SlipwayError('ENGINE_UNAVAILABLE', `engine '${engineName}' cannot start agents: ${what}; ${fix}`, { cause: error });
}
