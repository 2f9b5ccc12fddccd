import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nextSteps, type JobProgress, type JobSpec, type JobStatus, type Plan } from '../../src/pipeline/index.js';

/** A plan built by hand: jobs as [name, stage, needs|null, when]. */
function plan(jobs: Array<[string, string, string[] | null, JobSpec['when']?]>): Plan {
  const stages = [...new Set(jobs.map(([, stage]) => stage))];
  const specs = jobs.map(([name, stage, needs, when]) => ({ name, stage, needs, when: when ?? 'on_success' }) as unknown as JobSpec);
  const edges: Plan['edges'] = [];
  for (const job of specs) {
    if (job.needs === null) {
      const before = stages.slice(0, stages.indexOf(job.stage));
      for (const other of specs) if (before.includes(other.stage)) edges.push({ from: other.name, to: job.name, kind: 'stage' });
    } else {
      for (const need of job.needs as unknown as string[]) edges.push({ from: need, to: job.name, kind: 'needs' });
    }
  }
  return { file: '.slipway.yml', stages, variables: {}, jobs: specs, edges };
}

function state(entries: Record<string, JobStatus | [JobStatus, boolean]>): Map<string, JobProgress> {
  return new Map(
    Object.entries(entries).map(([name, s]) => [name, Array.isArray(s) ? { status: s[0], failureAllowed: s[1] } : { status: s, failureAllowed: false }]),
  );
}

describe('nextSteps', () => {
  it('starts the first stage and holds later stages back', () => {
    const p = plan([['a', 'build', null], ['b', 'build', null], ['c', 'test', null]]);
    const steps = nextSteps(p, state({}));
    assert.deepEqual(steps.start, ['a', 'b']);
    assert.equal(steps.finished, false);
  });

  it('starts a job with needs when its needs succeed, before its stage comes up', () => {
    const p = plan([['slow', 'build', null], ['quick', 'build', null], ['early', 'deploy', ['quick']]]);
    const steps = nextSteps(p, state({ slow: 'running', quick: 'success' }));
    assert.deepEqual(steps.start, ['early']);
  });

  it('starts a job with empty needs at once', () => {
    const p = plan([['a', 'build', null], ['lint', 'test', []]]);
    assert.deepEqual(nextSteps(p, state({})).start, ['a', 'lint']);
  });

  it('skips on_success jobs after a failure and runs on_failure and always jobs', () => {
    const p = plan([['a', 'build', null], ['t', 'test', null], ['report', 'post', null, 'on_failure'], ['tidy', 'post', null, 'always']]);
    const steps = nextSteps(p, state({ a: 'failed' }));
    assert.deepEqual(steps.skip, ['t']);
    assert.deepEqual(steps.start, ['report', 'tidy']);
    assert.equal(steps.outcome, 'failed');
  });

  it('treats an allowed failure as a pass', () => {
    const p = plan([['a', 'build', null], ['b', 'test', null], ['report', 'post', null, 'on_failure']]);
    const steps = nextSteps(p, state({ a: ['failed', true], b: 'success' }));
    assert.deepEqual(steps.skip, ['report']);
    assert.equal(steps.outcome, 'success');
    assert.equal(steps.finished, true);
  });

  it('cascades a skip along needs', () => {
    const p = plan([['a', 'build', null], ['b', 'test', ['a']], ['c', 'deploy', ['b']]]);
    const steps = nextSteps(p, state({ a: 'failed' }));
    assert.deepEqual(steps.skip, ['b', 'c']);
    assert.equal(steps.finished, true);
  });

  it('does not hold a later stage back for a skipped on_failure job', () => {
    const p = plan([['a', 'build', null], ['rescue', 'build', null, 'on_failure'], ['next', 'test', null]]);
    const first = nextSteps(p, state({ a: 'success' }));
    assert.deepEqual(first.skip, ['rescue']);
    assert.deepEqual(first.start, ['next']);
  });

  it('waits for a person on a manual job without blocking later stages, but blocks its needs', () => {
    const p = plan([['deploy', 'deploy', null, 'manual'], ['after', 'post', null], ['smoke', 'post', ['deploy']]]);
    const steps = nextSteps(p, state({}));
    assert.deepEqual(steps.manual, ['deploy']);
    assert.deepEqual(steps.start, ['after']);
    const later = nextSteps(p, state({ deploy: 'manual', after: 'success' }));
    assert.deepEqual(later.start, []);
    assert.equal(later.finished, true, 'a waiting manual job does not keep the build running');
  });

  it('schedules delayed jobs and reports a canceled build', () => {
    const p = plan([['a', 'build', null], ['later', 'test', null, 'delayed']]);
    assert.deepEqual(nextSteps(p, state({ a: 'success' })).delay, ['later']);
    assert.equal(nextSteps(p, state({ a: 'canceled', later: 'skipped' })).outcome, 'canceled');
  });
});
