/**
 * Checks between jobs: stages exist, expanded names are unique, `needs` and
 * `dependencies` name jobs that can provide what is asked, and `needs` has no cycle.
 * A job may need jobs of its own or earlier stages only: with a later-stage need, that
 * job would wait on a stage that waits on it.
 */
import type { DiagnosticList } from './diagnostics.js';
import type { JobFacts, Owner } from './jobs.js';
import { limits } from './limits.js';
import { matchesFilter } from './matrix.js';
import { closest, didYouMean, listOf } from './suggest.js';

export type GraphInput = {
  jobs: readonly JobFacts[];
  hidden: ReadonlySet<string>;
  /** Every stage in run order, `.pre` first and `.post` last. */
  stages: readonly string[];
  /** Stages as the file declares them, for messages. */
  declaredStages: readonly string[];
  diags: DiagnosticList;
  ownerOf: Owner;
};

export function checkJobGraph(input: GraphInput): void {
  const { jobs, diags } = input;
  const byName = new Map(jobs.map((job) => [job.name, job]));
  const byInstance = new Map<string, JobFacts>();
  let total = 0;
  let capReported = false;
  for (const job of jobs) {
    checkStage(job, input);
    const instances = job.instances ?? [];
    total += Math.max(1, instances.length);
    if (total > limits.jobs && !capReported) {
      diags.add(job.keyPos, `the pipeline has more than ${limits.jobs} jobs once \`parallel\` is expanded; split it or reduce \`parallel\``);
      capReported = true;
    }
    for (const instance of instances) {
      // A clash between a job's own name and another job's copy is reported at the job
      // that expands, whichever comes first in the file (byName finds a later one).
      const other = instance.name === job.name ? undefined : (byInstance.get(instance.name) ?? byName.get(instance.name));
      if (other === job) {
        diags.add(job.keyPos, `job \`${job.name}\` makes \`${instance.name}\` twice; remove the repeated \`parallel: matrix\` values`);
      } else if (other !== undefined) {
        diags.add(job.keyPos, `job \`${job.name}\` expands to \`${instance.name}\`, the same name as a job at line ${other.keyPos.line}; rename one of them`);
      }
      byInstance.set(instance.name, job);
    }
  }
  const resolve = (name: string): JobFacts | undefined => byName.get(name) ?? byInstance.get(name);
  for (const job of jobs) {
    checkNeeds(job, resolve, input);
    checkDependencies(job, resolve, input);
  }
  checkCycles(jobs, resolve, input);
}

function checkStage(job: JobFacts, { stages, declaredStages, diags }: GraphInput): void {
  if (stages.includes(job.stage)) return;
  const declared = declaredStages.length === 0 ? 'no stages are declared' : `declared stages: ${listOf(declaredStages)}`;
  if (job.stagePos === null) {
    diags.add(job.keyPos, `job \`${job.name}\` has no \`stage\`, so it runs in \`test\`, which \`stages:\` does not declare (${declared}); set \`stage:\` or add \`test\` to \`stages:\``);
    return;
  }
  const guess = closest(job.stage, stages);
  const hint = guess === null ? `add it to \`stages:\` or use one of those` : `did you mean \`${guess}\`?`;
  diags.add(job.stagePos, `stage \`${job.stage}\` of job \`${job.name}\` is not declared (${declared}); ${hint}`);
}

function unknownJob(name: string, { hidden, jobs }: GraphInput): string {
  if (hidden.has(name)) return `\`${name}\`, a hidden job (its name starts with \`.\`), which never runs`;
  return `\`${name}\`, which is not a job in this file${didYouMean(name, jobs.map((job) => job.name))}`;
}

function checkNeeds(job: JobFacts, resolve: (name: string) => JobFacts | undefined, input: GraphInput): void {
  const { diags, stages } = input;
  const seen = new Set<string>();
  for (const need of job.needs ?? []) {
    if (seen.has(need.job)) diags.add(need.pos, `\`needs\` of job \`${job.name}\` names \`${need.job}\` twice`);
    seen.add(need.job);
    const target = resolve(need.job);
    if (target === undefined) {
      diags.add(need.pos, `\`needs\` of job \`${job.name}\` names ${unknownJob(need.job, input)}`);
      continue;
    }
    if (stages.indexOf(target.stage) > stages.indexOf(job.stage) && stages.includes(job.stage)) {
      diags.add(need.pos, `job \`${job.name}\` (stage \`${job.stage}\`) needs \`${need.job}\` of the later stage \`${target.stage}\`; a job may only need jobs of its own or earlier stages`);
    }
    const filter = need.filter;
    if (filter !== null && target.instances !== null && target.name === need.job) {
      const at = need.filterPos ?? need.pos;
      if (!target.instances.some((instance) => instance.matrix !== null)) {
        diags.add(at, `\`needs\` of job \`${job.name}\` selects \`parallel: matrix\` values of \`${target.name}\`, which has no \`parallel: matrix\``);
      } else if (!target.instances.some((instance) => matchesFilter(instance, filter))) {
        const names = target.instances.slice(0, 5).map((instance) => instance.name);
        diags.add(at, `\`needs\` of job \`${job.name}\` selects none of the matrix jobs of \`${target.name}\` (${listOf(names)}${target.instances.length > 5 ? '...' : ''})`);
      }
    }
  }
}

function checkDependencies(job: JobFacts, resolve: (name: string) => JobFacts | undefined, input: GraphInput): void {
  const { diags, stages } = input;
  const needed = job.needs === null ? null : new Set(job.needs.map((need) => resolve(need.job)?.name ?? need.job));
  for (const dependency of job.dependencies ?? []) {
    const target = resolve(dependency.name);
    if (target === undefined) {
      diags.add(dependency.pos, `\`dependencies\` of job \`${job.name}\` names ${unknownJob(dependency.name, input)}`);
    } else if (needed !== null) {
      if (!needed.has(target.name)) {
        diags.add(dependency.pos, `\`dependencies\` names \`${dependency.name}\`, which job \`${job.name}\` does not list in \`needs\`; a job with \`needs\` takes artifacts only from jobs it needs`);
      }
    } else if (stages.includes(job.stage) && stages.indexOf(target.stage) >= stages.indexOf(job.stage)) {
      diags.add(dependency.pos, `\`dependencies\` names \`${dependency.name}\` of stage \`${target.stage}\`, which does not finish before stage \`${job.stage}\` of job \`${job.name}\`; name a job of an earlier stage`);
    }
  }
}

/** Reports each `needs` cycle once, as `a -> b -> c -> a` from its first job in the file. */
function checkCycles(jobs: readonly JobFacts[], resolve: (name: string) => JobFacts | undefined, { diags }: GraphInput): void {
  const order = new Map(jobs.map((job, index) => [job.name, index]));
  const state = new Map<string, 'active' | 'done'>();
  const stack: JobFacts[] = [];
  const reported = new Set<string>();

  const visit = (job: JobFacts): void => {
    state.set(job.name, 'active');
    stack.push(job);
    for (const need of job.needs ?? []) {
      const target = resolve(need.job);
      if (target === undefined) continue;
      const seen = state.get(target.name);
      if (seen === 'active') {
        const cycle = stack.slice(stack.indexOf(target));
        const first = cycle.reduce((a, b) => ((order.get(b.name) ?? 0) < (order.get(a.name) ?? 0) ? b : a));
        const start = cycle.indexOf(first);
        const rotated = [...cycle.slice(start), ...cycle.slice(0, start)];
        const key = rotated.map((j) => j.name).join('\0');
        if (reported.has(key)) continue;
        reported.add(key);
        const next = rotated[1] ?? first;
        const at = first.needs?.find((n) => resolve(n.job) === next)?.pos ?? need.pos;
        const spelled = [...rotated, first].map((j) => j.name).join(' -> ');
        diags.add(at, `\`needs\` cycle: ${spelled}; these jobs would wait for each other forever`);
      } else if (seen === undefined) {
        visit(target);
      }
    }
    stack.pop();
    state.set(job.name, 'done');
  };
  for (const job of jobs) if (!state.has(job.name)) visit(job);
}
