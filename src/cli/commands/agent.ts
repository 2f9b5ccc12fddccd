import { randomBytes } from 'node:crypto';
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import type { AgentLogger, SourceMode } from '../../agent/index.js';
import { SlipwayError } from '../../errors/index.js';
import { GROUP_RECORD_FILE, killLiveGroups, recordGroupsIn } from '../../process/index.js';
import { parsePositiveInt } from '../options.js';

type AgentFlags = {
  server: string;
  token?: string;
  name?: string;
  labels?: string;
  cpus?: string;
  memoryMib?: string;
  jobs: string;
  workDir?: string;
  maxJobs: string;
  source: string;
};

// Listed here, not imported: the agent module is loaded only when the command runs. The
// type keeps the list whole: a mode missing here, or one the agent does not know, does not compile.
const SOURCE_MODES: Record<SourceMode, true> = { auto: true, git: true, archive: true };

export function registerAgent(program: Command): void {
  program
    .command('agent')
    .description('run a build agent: connect to a server and run the jobs it assigns')
    .requiredOption('--server <url>', 'the server, http(s)://host[:port]')
    .option('--token <token>', 'the agent token (better: the SLIPWAY_AGENT_TOKEN environment variable, which ps does not show)')
    .option('--name <name>', 'how the server shows this agent (default: hostname-pid-random)')
    .option('--labels <a,b>', 'labels jobs can ask for, comma-separated')
    .option('--cpus <n>', 'cpus to offer (default: this machine\'s)')
    .option('--memory-mib <n>', 'memory to offer in MiB (default: this machine\'s)')
    .option('--jobs <n>', 'jobs to run at once', '1')
    .option('--work-dir <dir>', 'where builds, git mirrors and the outbox live (default: $SLIPWAY_HOME/agent)')
    .option('--max-jobs <n>', 'exit after this many jobs (0: never)', '0')
    .option(
      '--source <how>',
      'how jobs get their source: git (clone the commit; the image needs git), archive (a tar of the commit from the server, no .git), auto (git when it runs and reaches the repository, else archive)',
      'auto',
    )
    .action(async (flags: AgentFlags) => {
      await agent(flags);
    });
}

async function agent(flags: AgentFlags): Promise<void> {
  const token = flags.token ?? process.env.SLIPWAY_AGENT_TOKEN;
  if (token === undefined || token === '') {
    throw new SlipwayError('USAGE', 'no agent token: set SLIPWAY_AGENT_TOKEN (or pass --token) to a token the server issued.');
  }
  if (!/^https?:\/\/[^/]/.test(flags.server)) {
    throw new SlipwayError('USAGE', `--server ${flags.server}: give the server's http:// or https:// URL.`);
  }
  const engineName = process.env.SLIPWAY_ENGINE_NAME;
  const engineTaskId = process.env.SLIPWAY_ENGINE_TASK_ID;
  const maxJobs = Number(flags.maxJobs);
  if (!Number.isInteger(maxJobs) || maxJobs < 0) throw new SlipwayError('USAGE', `--max-jobs ${flags.maxJobs}: give a whole number (0 for no limit).`);
  if (!Object.hasOwn(SOURCE_MODES, flags.source)) {
    throw new SlipwayError('USAGE', `--source ${flags.source}: give auto, git or archive.`);
  }
  const source = flags.source as SourceMode;
  const cpus = flags.cpus === undefined ? os.availableParallelism() : Number(flags.cpus);
  if (!(cpus > 0)) throw new SlipwayError('USAGE', `--cpus ${flags.cpus}: give a positive number.`);

  const engine = engineName && engineTaskId ? { name: engineName, taskId: engineTaskId } : null;
  const workDir = path.resolve(flags.workDir ?? path.join(process.env.SLIPWAY_HOME ?? '.slipway', 'agent'));
  const drain = new AbortController();
  const stop = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals > 1) {
      // The jobs' processes lead groups of their own, which exiting would leave running.
      killLiveGroups();
      process.exit(130);
    }
    // An engine's SIGTERM is its stop(): it expects the agent and its jobs gone, not finished (docs/engines.md).
    if (signal === 'SIGTERM' && engine !== null) {
      process.stderr.write(`Received ${signal} from engine '${engine.name}': ending running jobs and stopping (again to quit at once)\n`);
      stop.abort();
      return;
    }
    process.stderr.write(`Received ${signal}: finishing running jobs, taking no new one (again to quit at once)\n`);
    drain.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  // What the local engine reads to end the jobs' processes after it had to SIGKILL this one.
  await mkdir(workDir, { recursive: true });
  recordGroupsIn(path.join(workDir, GROUP_RECORD_FILE));
  try {
    // Loaded here, not at the top: every other command would pay for the agent (ws, zod, the executor).
    const { runAgent } = await import('../../agent/index.js');
    await runAgent({
      serverUrl: flags.server,
      token,
      name: flags.name ?? `${os.hostname()}-${process.pid}-${randomBytes(3).toString('hex')}`,
      labels: (flags.labels ?? '').split(',').map((label) => label.trim()).filter((label) => label !== ''),
      capacity: {
        cpus,
        memoryMiB: flags.memoryMib === undefined ? Math.floor(os.totalmem() / 1024 / 1024) : parsePositiveInt('--memory-mib', flags.memoryMib),
        jobs: parsePositiveInt('--jobs', flags.jobs),
      },
      workDir,
      maxJobs,
      source,
      baseEnv: process.env,
      signal: drain.signal,
      stopSignal: stop.signal,
      log: stderrLogger(),
      engine,
    });
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** One line per event on stderr: `agent: <message> key=value …`. */
function stderrLogger(): AgentLogger {
  const write = (level: string) => (message: string, fields: Record<string, unknown> = {}) => {
    const facts = Object.entries(fields)
      .filter(([, value]) => value !== undefined && value !== null)
      .map(([key, value]) => `${key}=${typeof value === 'string' ? JSON.stringify(value) : String(value)}`);
    process.stderr.write(`agent: ${level === 'info' ? '' : `${level}: `}${[message, ...facts].join(' ')}\n`);
  };
  return { info: write('info'), warn: write('warn'), error: write('error') };
}
