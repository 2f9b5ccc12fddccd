import os from 'node:os';
import path from 'node:path';
import type { Command } from 'commander';
import { collect, parsePositiveInt, parseVars } from '../options.js';

type RunFlags = { job: string[]; var: string[]; parallel?: string; dirty?: boolean; file: string };

export function registerRun(program: Command): void {
  program
    .command('run')
    .description('run the pipeline of the git repository here (its HEAD commit) on this machine')
    .option('--job <name>', 'run only this job and what it depends on (repeatable)', collect, [])
    .option('--var <NAME=value>', 'set a variable, overriding the pipeline file (repeatable)', collect, [])
    .option('--parallel <n>', 'run at most n jobs at once (default: the number of cores)')
    .option('--dirty', 'include uncommitted changes of the working tree')
    .option('--file <path>', 'the pipeline file, relative to this directory', '.slipway.yml')
    .action(async (flags: RunFlags) => {
      process.exitCode = await run(flags);
    });
}

async function run(flags: RunFlags): Promise<number> {
  // Loaded here, not at the top: other commands need neither the executor nor the pipeline compiler.
  const [{ formatDuration }, { formatDiagnostic }, { runLocalPipeline }, { JobPrinter, paint, styleFor }, { formatSummary }] = await Promise.all([
    import('../../executor/index.js'),
    import('../../pipeline/index.js'),
    import('../run/local-run.js'),
    import('../run/printer.js'),
    import('../run/summary.js'),
  ]);
  const style = styleFor(process.stdout);
  const say = (line: string) => process.stdout.write(`${paint(style, '1', line)}\n`);
  const controller = new AbortController();
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals += 1;
    if (signals === 1) {
      process.stderr.write(`\nReceived ${signal}: stopping running jobs, starting no new one (again to quit at once)\n`);
      controller.abort();
    } else {
      process.exit(130);
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const result = await runLocalPipeline({
      cwd: process.cwd(),
      baseEnv: process.env,
      file: flags.file,
      jobs: flags.job,
      variables: parseVars(flags.var),
      parallel: flags.parallel === undefined ? os.availableParallelism() : parsePositiveInt('--parallel', flags.parallel),
      dirty: flags.dirty === true,
      home: path.resolve(process.env.SLIPWAY_HOME ?? '.slipway'),
      signal: controller.signal,
      printer: (plan) => new JobPrinter(process.stdout, style, plan.jobs.map((j) => j.name)),
      say,
    });
    if (result.kind === 'invalid') {
      for (const error of result.errors) process.stderr.write(`${formatDiagnostic(error)}\n`);
      process.stderr.write(`${result.errors.length} error${result.errors.length === 1 ? '' : 's'} in the pipeline: nothing was run.\n`);
      return 1;
    }
    if (result.kind === 'not_run') {
      say(`The pipeline does not run for this commit: ${result.reason}`);
      return 0;
    }
    process.stdout.write(`\n${formatSummary(result.jobs, style)}\n\n`);
    const verdict = { success: ['32', 'Pipeline succeeded'], failed: ['31', 'Pipeline failed'], canceled: ['35', 'Pipeline canceled'] }[result.outcome];
    process.stdout.write(`${paint(style, `1;${verdict[0]}`, verdict[1] ?? '')} in ${formatDuration(result.durationMs)}. Artifacts and summary: ${result.runDir}\n`);
    if (result.outcome === 'success') return 0;
    return result.outcome === 'canceled' ? 130 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
