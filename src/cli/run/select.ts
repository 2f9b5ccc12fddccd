import { SlipwayError } from '../../errors/index.js';
import type { Plan } from '../../pipeline/index.js';

/**
 * `--job NAME`: keeps the named jobs and, transitively, every job they depend on, so
 * that their artifacts exist. A name matches a job's expanded name (`test: [node=20]`)
 * or its definition name (`test`, every expansion). A selected manual job runs as
 * on_success: naming it is the person starting it.
 */
export function selectJobs(plan: Plan, names: string[]): Plan {
  if (names.length === 0) return plan;
  const chosen = new Set<string>();
  for (const name of names) {
    const matches = plan.jobs.filter((j) => j.name === name || j.definitionName === name);
    if (matches.length === 0) {
      const known = plan.jobs.map((j) => j.name).join(', ');
      throw new SlipwayError('USAGE', `--job ${name}: no job of that name in this pipeline (jobs: ${known}).`);
    }
    for (const job of matches) chosen.add(job.name);
  }
  const explicit = new Set(chosen);
  const incoming = new Map<string, string[]>();
  for (const edge of plan.edges) incoming.set(edge.to, [...(incoming.get(edge.to) ?? []), edge.from]);
  const stack = [...chosen];
  for (let name = stack.pop(); name !== undefined; name = stack.pop()) {
    for (const from of incoming.get(name) ?? []) {
      if (!chosen.has(from)) {
        chosen.add(from);
        stack.push(from);
      }
    }
  }
  const jobs = plan.jobs
    .filter((j) => chosen.has(j.name))
    .map((j) => (explicit.has(j.name) && j.when === 'manual' ? { ...j, when: 'on_success' as const } : j));
  return {
    ...plan,
    jobs,
    stages: plan.stages.filter((s) => jobs.some((j) => j.stage === s)),
    edges: plan.edges.filter((e) => chosen.has(e.from) && chosen.has(e.to)),
  };
}
