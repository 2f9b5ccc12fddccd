/**
 * planPipeline: a definition and what is being built (PlanContext) → the jobs of one build.
 *
 *   1. workflow rules decide whether the build runs, and may add variables;
 *   2. each copy of each job (parallel/matrix) is kept or dropped by its rules, which may
 *      change its `when`, `allow_failure`, `start_in` and variables;
 *   3. needs are resolved to the kept copies (an excluded need is an error unless
 *      `optional: true`), stage order gives the remaining edges.
 */
import { messageOf } from '../errors/index.js';
import { DiagnosticList } from './diagnostics.js';
import { isPipelineInternal, type JobDefinition, type PipelineInternal } from './definition.js';
import { matchesFilter, type JobInstance } from './matrix.js';
import { GlobCache, firstMatchingRule, type RuleContext } from './rules.js';
import type { AllowFailureSpec, JobSpec, JobWhen, NeedSpec, Plan, PipelineDefinition, PlanContext, PlanOutcome, Result } from './types.js';

export function planPipeline(def: PipelineDefinition, ctx: PlanContext): Result<PlanOutcome> {
  const diags = new DiagnosticList(def.file);
  try {
    if (!isPipelineInternal(def.internal)) {
      diags.add({ line: 1, column: 1 }, 'this pipeline definition was not made by parsePipeline');
      return { ok: false, errors: diags.sorted() };
    }
    const outcome = plan(def, def.internal, ctx, diags);
    if (outcome !== null && diags.count === 0) return { ok: true, value: outcome };
  } catch (error) {
    diags.add({ line: 1, column: 1 }, `internal error while planning the pipeline, please report it: ${messageOf(error)}`);
  }
  return { ok: false, errors: diags.sorted() };
}

type Candidate = { job: JobDefinition; instance: JobInstance; spec: JobSpec };

/** The outcome, or null after reporting needs that the rules left without a job. */
function plan(def: PipelineDefinition, internal: PipelineInternal, ctx: PlanContext, diags: DiagnosticList): PlanOutcome | null {
  const globs = new GlobCache();
  const context = (variables: Record<string, string>): RuleContext => ({
    variables: { ...variables, ...ctx.variables },
    changedPaths: ctx.changedPaths,
    existingPaths: ctx.existingPaths,
  });

  let pipelineVariables = { ...def.variables };
  if (internal.workflowRules !== null) {
    const rule = firstMatchingRule(internal.workflowRules, context(pipelineVariables), globs);
    if (rule === null) return { run: false, reason: 'no `workflow: rules:` entry matched, so this pipeline does not run' };
    if (rule.when === 'never') return { run: false, reason: `the \`workflow: rules:\` entry at line ${rule.position.line} matched with \`when: never\`` };
    pipelineVariables = { ...pipelineVariables, ...rule.variables };
  }

  /** Kept copies in file order. */
  const kept: Candidate[] = [];
  const keptByDefinition = new Map<string, Candidate[]>();
  for (const job of internal.jobs) {
    const copies: Candidate[] = [];
    for (const instance of job.instances) {
      const candidate = planInstance(job, instance, pipelineVariables, context, globs);
      if (candidate !== null) copies.push(candidate);
    }
    keptByDefinition.set(job.name, copies);
    kept.push(...copies);
  }
  const byName = new Map(kept.map((candidate) => [candidate.spec.name, candidate]));

  for (const candidate of kept) {
    if (candidate.job.needs === null) continue;
    const needs = new Map<string, NeedSpec>();
    for (const need of candidate.job.needs) {
      const byDefinition = keptByDefinition.get(need.job);
      const targets = byDefinition === undefined
        ? [byName.get(need.job)].filter((target): target is Candidate => target !== undefined)
        : byDefinition.filter((target) => need.filter === null || matchesFilter(target.instance, need.filter));
      if (targets.length === 0 && !need.optional) {
        diags.add(need.position, `job \`${candidate.job.name}\` needs \`${need.job}\`, which the rules excluded from this pipeline; add \`optional: true\` to the need or change the rules`);
      }
      for (const target of targets) {
        const previous = needs.get(target.spec.name);
        needs.set(target.spec.name, { job: target.spec.name, artifacts: need.artifacts || (previous?.artifacts ?? false) });
      }
    }
    candidate.spec.needs = [...needs.values()];
  }
  if (diags.count > 0) return null;
  if (kept.length === 0) return { run: false, reason: 'the rules excluded every job, so this pipeline has nothing to run' };

  const stageIndex = new Map(def.stages.map((stage, index) => [stage, index]));
  const rank = (c: Candidate): number => stageIndex.get(c.spec.stage) ?? 0;
  if (kept.every((c) => c.spec.stage === '.pre' || c.spec.stage === '.post')) {
    return { run: false, reason: 'only `.pre` and `.post` jobs would run, so this pipeline does not run' };
  }
  // sort is stable, so jobs of one stage keep file order.
  const jobs = [...kept].sort((a, b) => rank(a) - rank(b));

  const edges: Plan['edges'] = [];
  for (const candidate of jobs) {
    const spec = candidate.spec;
    const dependencies = candidate.job.dependencies;
    const allowed = (source: Candidate): boolean => dependencies === null || dependencies.includes(source.job.name) || dependencies.includes(source.spec.name);
    if (spec.needs !== null) {
      for (const need of spec.needs) edges.push({ from: need.job, to: spec.name, kind: 'needs' });
      spec.artifactsFrom = spec.needs
        .filter((need) => need.artifacts)
        .map((need) => byName.get(need.job))
        .filter((source): source is Candidate => source !== undefined && allowed(source))
        .map((source) => source.spec.name);
    } else {
      const earlier = jobs.filter((other) => rank(other) < rank(candidate));
      for (const other of earlier) edges.push({ from: other.spec.name, to: spec.name, kind: 'stage' });
      spec.artifactsFrom = earlier.filter(allowed).map((other) => other.spec.name);
    }
  }

  const used = new Set(jobs.map((c) => c.spec.stage));
  return {
    run: true,
    plan: {
      file: def.file,
      stages: def.stages.filter((stage) => used.has(stage)),
      variables: pipelineVariables,
      jobs: jobs.map((c) => c.spec),
      edges,
    },
  };
}

/** One copy of a job with its rules applied, or null when the rules exclude it. */
function planInstance(
  job: JobDefinition,
  instance: JobInstance,
  pipelineVariables: Record<string, string>,
  context: (variables: Record<string, string>) => RuleContext,
  globs: GlobCache,
): Candidate | null {
  const inherit = job.inheritVariables;
  const inherited = inherit === true ? pipelineVariables
    : inherit === false ? {}
    : Object.fromEntries(Object.entries(pipelineVariables).filter(([name]) => inherit.includes(name)));
  const matrix = instance.matrix === null ? null : Object.fromEntries(instance.matrix);
  let variables = { ...inherited, ...job.variables, ...matrix };
  const settings = structuredClone(job.settings);
  let ruleWhen: JobWhen | null = null;
  let allowFailure: AllowFailureSpec | null = job.allowFailure;
  if (job.rules !== null) {
    const rule = firstMatchingRule(job.rules, context(variables), globs);
    if (rule === null || rule.when === 'never') return null;
    ruleWhen = rule.when;
    allowFailure = rule.allowFailure ?? allowFailure;
    settings.startInMs = rule.startInMs ?? settings.startInMs;
    variables = { ...variables, ...rule.variables };
  }
  const when = ruleWhen ?? settings.when;
  // As in GitLab, a job made manual by its own `when` may fail without failing the build
  // unless it says so; a rule's `when` comes without that default.
  allowFailure ??= ruleWhen === null && when === 'manual' ? { exitCodes: null } : false;
  const spec: JobSpec = {
    name: instance.name,
    definitionName: job.name,
    stage: job.stage,
    needs: null,
    artifactsFrom: [],
    ...settings,
    variables,
    allowFailure,
    when,
    startInMs: when === 'delayed' ? settings.startInMs : null,
    matrix,
    parallel: instance.parallel,
    position: { ...job.position },
  };
  return { job, instance, spec };
}
