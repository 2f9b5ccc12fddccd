import assert from 'node:assert/strict';
import { formatDiagnostic, parsePipeline, planPipeline, type JobSpec, type Plan, type PipelineDefinition, type PlanContext, type PlanOutcome } from '../../src/pipeline/index.js';

/**
 * A YAML text written indented inside a test: the first line break and the common
 * indentation are removed, so line 1 of the file is the first line written.
 */
export function yml(strings: TemplateStringsArray, ...values: unknown[]): string {
  const raw = strings.reduce((text, part, i) => text + part + (i < values.length ? String(values[i]) : ''), '');
  const lines = raw.replace(/^\n/, '').replace(/\n[ ]*$/, '\n').split('\n');
  const indent = Math.min(...lines.filter((line) => line.trim() !== '').map((line) => /^ */.exec(line)?.[0].length ?? 0));
  return lines.map((line) => line.slice(indent)).join('\n');
}

export const FILE = '.slipway.yml';

export function parseOk(text: string): PipelineDefinition {
  const result = parsePipeline(text, FILE);
  if (!result.ok) assert.fail(`expected a valid file, got:\n${result.errors.map(formatDiagnostic).join('\n')}`);
  return result.value;
}

/** The file's errors as `line:column: message`. */
export function errorsOf(text: string): string[] {
  const result = parsePipeline(text, FILE);
  if (result.ok) assert.fail('expected errors, but the file is valid');
  return result.errors.map((d) => `${d.line}:${d.column}: ${d.message}`);
}

/** Asserts one error at line:column whose message matches. */
export function assertError(errors: readonly string[], at: string, message: RegExp): void {
  const found = errors.filter((e) => e.startsWith(`${at}: `));
  assert.ok(found.some((e) => message.test(e.slice(at.length + 2))), `expected an error at ${at} matching ${message}, got:\n${errors.join('\n')}`);
}

export function context(variables: Record<string, string> = {}, changedPaths: string[] | null = null, existingPaths: string[] | null = null): PlanContext {
  return { variables, changedPaths, existingPaths };
}

export const PUSH_TO_MAIN = context({ CI_COMMIT_BRANCH: 'main', CI_PIPELINE_SOURCE: 'push', CI_DEFAULT_BRANCH: 'main' });

export function outcomeOf(text: string, ctx: PlanContext = PUSH_TO_MAIN): PlanOutcome {
  const result = planPipeline(parseOk(text), ctx);
  if (!result.ok) assert.fail(`expected a plan, got:\n${result.errors.map(formatDiagnostic).join('\n')}`);
  return result.value;
}

export function planOf(text: string, ctx: PlanContext = PUSH_TO_MAIN): Plan {
  const outcome = outcomeOf(text, ctx);
  if (!outcome.run) assert.fail(`expected the pipeline to run, but: ${outcome.reason}`);
  return outcome.plan;
}

export function jobOf(plan: Plan, name: string): JobSpec {
  const job = plan.jobs.find((j) => j.name === name);
  if (job === undefined) assert.fail(`no job ${name} in the plan; jobs: ${plan.jobs.map((j) => j.name).join(', ')}`);
  return job;
}

export function namesOf(plan: Plan): string[] {
  return plan.jobs.map((job) => job.name);
}
