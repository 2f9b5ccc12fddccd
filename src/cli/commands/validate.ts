import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import type { Plan } from '../../pipeline/index.js';
import { SlipwayError } from '../../errors/index.js';
import { collect, parseVars } from '../options.js';

type ValidateFlags = { json?: boolean; var: string[]; branch?: string; tag?: string; source: string };

export function registerValidate(program: Command): void {
  program
    .command('validate [file]')
    .description('check a pipeline file; print its errors (exit 1) or its plan (exit 0)')
    .option('--json', 'print JSON for machines')
    .option('--branch <name>', 'evaluate rules as for this branch', 'main')
    .option('--tag <name>', 'evaluate rules as for this tag (instead of a branch)')
    .option('--source <event>', 'evaluate rules as for this pipeline source (push, web, schedule, api...)', 'push')
    .option('--var <NAME=value>', 'a variable for rules (repeatable)', collect, [])
    .action(async (file: string | undefined, flags: ValidateFlags) => {
      process.exitCode = await validate(file ?? '.slipway.yml', flags);
    });
}

async function validate(file: string, flags: ValidateFlags): Promise<number> {
  // Loaded here, not at the top: the pipeline compiler is only this command's.
  const { formatDiagnostic, parsePipeline, planPipeline } = await import('../../pipeline/index.js');
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    throw new SlipwayError('PIPELINE_NOT_FOUND', `cannot read ${file}: ${(error as Error).message}`, { cause: error });
  }
  const ref: Record<string, string> = flags.tag === undefined ? { CI_COMMIT_BRANCH: flags.branch ?? 'main' } : { CI_COMMIT_TAG: flags.tag };
  const variables = { CI: 'true', CI_PIPELINE_SOURCE: flags.source, CI_COMMIT_REF_NAME: flags.tag ?? flags.branch ?? 'main', ...ref, ...parseVars(flags.var) };
  const parsed = parsePipeline(text, file);
  const planned = parsed.ok ? planPipeline(parsed.value, { variables, changedPaths: null, existingPaths: null }) : parsed;
  if (!planned.ok) {
    if (flags.json === true) process.stdout.write(`${JSON.stringify({ valid: false, errors: planned.errors }, null, 2)}\n`);
    else {
      for (const error of planned.errors) process.stderr.write(`${formatDiagnostic(error)}\n`);
      process.stderr.write(`${file}: ${planned.errors.length} error${planned.errors.length === 1 ? '' : 's'}\n`);
    }
    return 1;
  }
  const outcome = planned.value;
  if (flags.json === true) {
    process.stdout.write(`${JSON.stringify(outcome.run ? { valid: true, run: true, plan: outcome.plan } : { valid: true, run: false, reason: outcome.reason }, null, 2)}\n`);
    return 0;
  }
  if (!outcome.run) {
    process.stdout.write(`${file} is valid; its workflow rules do not run it here: ${outcome.reason}\n`);
    return 0;
  }
  process.stdout.write(describePlan(file, outcome.plan));
  return 0;
}

function describePlan(file: string, plan: Plan): string {
  const lines = [`${file} is valid: ${plan.stages.length} stage${plan.stages.length === 1 ? '' : 's'}, ${plan.jobs.length} job${plan.jobs.length === 1 ? '' : 's'}`, ''];
  const width = Math.max(...plan.jobs.map((j) => j.name.length));
  for (const stage of plan.stages) {
    lines.push(stage);
    for (const job of plan.jobs.filter((j) => j.stage === stage)) {
      const when = job.when === 'on_success' ? '' : ` (${job.when})`;
      const after = job.needs === null ? afterStages(plan.stages, stage) : job.needs.length === 0 ? 'starts at once' : `needs ${job.needs.map((n) => n.job).join(', ')}`;
      lines.push(`  ${(job.name + when).padEnd(width + 12)} ${after}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

/** What a stage-ordered job waits for: every earlier stage. */
function afterStages(stages: string[], stage: string): string {
  const before = stages.slice(0, stages.indexOf(stage));
  return before.length === 0 ? 'starts at once' : `after stage ${before.join(', ')}`;
}
