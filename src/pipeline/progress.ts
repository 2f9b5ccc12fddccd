import type { JobSpec, Plan } from './types.js';

/**
 * How a build moves forward: given the plan and where each job stands, which jobs start,
 * which are skipped, which wait for a person or a timer. Pure, so that `slipway run` and
 * the server's scheduler agree on every build, and so it can be tested without running
 * anything.
 *
 * Rules (GitLab's, where it has one):
 *  - A job waits until every job it depends on (its needs, or every job of earlier
 *    stages) has finished.
 *  - Upstream "failed" means a dependency failed without being allowed to, was
 *    canceled, or — for needs only — was skipped. A stage-ordered job is not held back by
 *    a skipped job of an earlier stage (an `on_failure` job that had nothing to do).
 *  - on_success runs when nothing upstream failed; on_failure only when something did;
 *    always runs either way; manual and delayed behave like on_success and then wait.
 *  - A manual job that nobody started holds back the jobs that need it, but not jobs
 *    ordered after its stage (manual jobs do not block a pipeline, as in GitLab).
 */

export type JobStatus =
  | 'created' // waiting for its dependencies
  | 'pending' // ready, waiting for an agent
  | 'running'
  | 'manual' // waiting for a person to start it
  | 'scheduled' // `when: delayed`, waiting for its start_in to pass
  | 'success'
  | 'failed'
  | 'canceled'
  | 'skipped';

export type JobProgress = {
  status: JobStatus;
  /** For a failed job: its failure was allowed (allow_failure), so it counts as passed. */
  failureAllowed: boolean;
};

export type NextSteps = {
  /** Jobs to queue now (created → pending). */
  start: string[];
  /** Jobs that will never run (created → skipped), including cascades. */
  skip: string[];
  /** Jobs that now wait for a person (created → manual). */
  manual: string[];
  /** Jobs that now wait for their start_in (created → scheduled). */
  delay: string[];
  /**
   * No job is pending, running or scheduled, and none can start without a person: the
   * build is over (jobs left waiting on an unstarted manual job stay 'created').
   */
  finished: boolean;
  /** The build's outcome if it ended now. */
  outcome: 'success' | 'failed' | 'canceled';
};

const FINISHED: ReadonlySet<JobStatus> = new Set(['success', 'failed', 'canceled', 'skipped']);
// 'created' is not here: at the fixed point below, a job still created with nothing
// active waits only on a manual job nobody started, and that does not keep a build open.
const ACTIVE: ReadonlySet<JobStatus> = new Set(['pending', 'running', 'scheduled']);

export function nextSteps(plan: Plan, progress: ReadonlyMap<string, JobProgress>): NextSteps {
  const status = new Map<string, JobStatus>();
  for (const job of plan.jobs) status.set(job.name, progress.get(job.name)?.status ?? 'created');
  const allowed = (name: string) => progress.get(name)?.failureAllowed === true;

  const incoming = new Map<string, Array<{ from: string; kind: 'needs' | 'stage' }>>();
  for (const edge of plan.edges) {
    const list = incoming.get(edge.to) ?? [];
    list.push({ from: edge.from, kind: edge.kind });
    incoming.set(edge.to, list);
  }

  const steps: NextSteps = { start: [], skip: [], manual: [], delay: [], finished: false, outcome: 'success' };
  // Skips cascade (a skipped need skips its dependents), so repeat until nothing moves.
  for (let changed = true; changed; ) {
    changed = false;
    for (const job of plan.jobs) {
      if (status.get(job.name) !== 'created') continue;
      const decision = decide(job, incoming.get(job.name) ?? [], status, allowed);
      if (decision === 'wait') continue;
      changed = true;
      const next = transition[decision];
      status.set(job.name, next);
      steps[decision].push(job.name);
    }
  }

  steps.finished = [...status.values()].every((s) => !ACTIVE.has(s));
  steps.outcome = outcomeOf(plan, status, allowed);
  return steps;
}

const transition = { start: 'pending', skip: 'skipped', manual: 'manual', delay: 'scheduled' } as const;

function decide(
  job: JobSpec,
  deps: Array<{ from: string; kind: 'needs' | 'stage' }>,
  status: ReadonlyMap<string, JobStatus>,
  allowed: (name: string) => boolean,
): 'wait' | 'start' | 'skip' | 'manual' | 'delay' {
  let upstreamFailed = false;
  for (const dep of deps) {
    const s = status.get(dep.from) ?? 'created';
    if (s === 'manual') {
      if (dep.kind === 'needs') return 'wait';
      continue;
    }
    if (!FINISHED.has(s)) return 'wait';
    if (s === 'failed' && !allowed(dep.from)) upstreamFailed = true;
    if (s === 'canceled') upstreamFailed = true;
    if (s === 'skipped' && dep.kind === 'needs') upstreamFailed = true;
  }
  switch (job.when) {
    case 'always':
      return 'start';
    case 'on_failure':
      return upstreamFailed ? 'start' : 'skip';
    case 'on_success':
      return upstreamFailed ? 'skip' : 'start';
    case 'manual':
      return upstreamFailed ? 'skip' : 'manual';
    case 'delayed':
      return upstreamFailed ? 'skip' : 'delay';
  }
}

function outcomeOf(
  plan: Plan,
  status: ReadonlyMap<string, JobStatus>,
  allowed: (name: string) => boolean,
): NextSteps['outcome'] {
  let outcome: NextSteps['outcome'] = 'success';
  for (const job of plan.jobs) {
    const s = status.get(job.name);
    if (s === 'canceled') return 'canceled';
    if (s === 'failed' && !allowed(job.name)) outcome = 'failed';
  }
  return outcome;
}
