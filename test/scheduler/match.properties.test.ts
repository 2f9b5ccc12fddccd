import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compareJobs, matchJobs, type AgentSlot, type MatchInput, type PendingJob } from '../../src/scheduler/index.js';
import { frozen } from './helpers.js';
import { referenceMatch } from './reference.js';

const LABELS = ['linux', 'docker', 'gpu', 'arm64'];
const labels = fc.subarray(LABELS);

const pendingJob = fc.record({
  projectId: fc.integer({ min: 1, max: 3 }),
  labels: fc.subarray(LABELS, { maxLength: 2 }),
  cpus: fc.option(fc.constantFrom(0, 0.1, 0.5, 1, 2, 4)),
  memoryMiB: fc.option(fc.constantFrom(256, 1024, 4096)),
  priority: fc.integer({ min: 0, max: 3 }),
  queuedAt: fc.integer({ min: 0, max: 20 }),
});

const agentSlot = fc.record({
  labels,
  freeSlots: fc.integer({ min: 0, max: 4 }),
  freeCpus: fc.constantFrom(0, 0.5, 1, 2, 4, 8),
  freeMemoryMiB: fc.constantFrom(0, 1024, 4096, 8192),
});

const projectIds = [1, 2, 3];

const matchInput: fc.Arbitrary<MatchInput> = fc
  .record({
    pending: fc.array(pendingJob, { maxLength: 40 }),
    agents: fc.array(agentSlot, { maxLength: 8 }),
    running: fc.tuple(...projectIds.map(() => fc.integer({ min: 0, max: 3 }))),
    limits: fc.tuple(...projectIds.map(() => fc.option(fc.integer({ min: 0, max: 5 })))),
  })
  .map(({ pending, agents, running, limits }) => ({
    // Ids unique and shuffled against the order the jobs are served in.
    pending: pending.map((j, i): PendingJob => ({ ...j, id: (i * 7) % 101 })),
    agents: agents.map((a, i): AgentSlot => ({ ...a, id: 100 - i * 3 })),
    runningByProject: Object.fromEntries(projectIds.map((p, i) => [p, running[i] ?? 0])),
    concurrencyLimit: Object.fromEntries(projectIds.map((p, i) => [p, limits[i] ?? null])),
  }));

function hasAll(have: readonly string[], need: readonly string[]): boolean {
  return need.every((label) => have.includes(label));
}

function check(property: (input: MatchInput) => void): void {
  fc.assert(fc.property(matchInput, property), { numRuns: 500 });
}

describe('matchJobs on random queues and agents', () => {
  it('never gives an agent more jobs than its free slots, or more than its free cpus and memory', () => {
    check((input) => {
      const result = matchJobs(frozen(input));
      for (const a of input.agents) {
        const jobs = result.filter((r) => r.agentId === a.id).map((r) => input.pending.find((j) => j.id === r.jobId));
        assert.ok(jobs.length <= a.freeSlots);
        assert.ok(jobs.reduce((sum, j) => sum + (j?.cpus ?? 0), 0) <= a.freeCpus + 1e-6);
        assert.ok(jobs.reduce((sum, j) => sum + (j?.memoryMiB ?? 0), 0) <= a.freeMemoryMiB);
      }
    });
  });

  it('gives a job only to an agent with all of its labels, and each job at most once', () => {
    check((input) => {
      const result = matchJobs(input);
      assert.equal(new Set(result.map((r) => r.jobId)).size, result.length);
      for (const r of result) {
        const j = input.pending.find((p) => p.id === r.jobId);
        const a = input.agents.find((p) => p.id === r.agentId);
        assert.ok(j !== undefined && a !== undefined);
        assert.ok(hasAll(a.labels, j.labels), `job ${j.id} [${j.labels}] on agent ${a.id} [${a.labels}]`);
      }
    });
  });

  it('never lets a project exceed its concurrency limit', () => {
    check((input) => {
      const result = matchJobs(input);
      const running = input.runningByProject as Record<number, number>;
      const limits = input.concurrencyLimit as Record<number, number | null>;
      for (const p of projectIds) {
        const started = result.filter((r) => input.pending.find((j) => j.id === r.jobId)?.projectId === p).length;
        const limit = limits[p];
        if (limit !== null && limit !== undefined && started > 0) assert.ok((running[p] ?? 0) + started <= limit);
      }
    });
  });

  it('never skips a job for a later one that its agent could have taken instead', () => {
    check((input) => {
      const result = matchJobs(input);
      const assigned = new Map(result.map((r) => [r.jobId, r.agentId]));
      const running = input.runningByProject as Record<number, number>;
      const limits = input.concurrencyLimit as Record<number, number | null>;
      const startedIn = (p: number) => result.filter((r) => input.pending.find((j) => j.id === r.jobId)?.projectId === p).length;
      for (const skipped of input.pending.filter((j) => !assigned.has(j.id))) {
        const limit = limits[skipped.projectId];
        if (limit !== null && limit !== undefined && (running[skipped.projectId] ?? 0) + startedIn(skipped.projectId) >= limit) continue;
        for (const later of input.pending.filter((j) => assigned.has(j.id) && compareJobs(skipped, j) < 0)) {
          const a = input.agents.find((x) => x.id === assigned.get(later.id));
          assert.ok(a !== undefined);
          const couldTakeIt = hasAll(a.labels, skipped.labels) && (skipped.cpus ?? 0) <= (later.cpus ?? 0) && (skipped.memoryMiB ?? 0) <= (later.memoryMiB ?? 0);
          assert.ok(!couldTakeIt, `job ${skipped.id} was skipped, yet later job ${later.id} went to agent ${a.id}, which it fits`);
        }
      }
    });
  });

  it('decides the same whatever the order of jobs and agents in the input', () => {
    check((input) => {
      const reordered = { ...input, pending: [...input.pending].reverse(), agents: [...input.agents].reverse() };
      assert.deepEqual(matchJobs(reordered), matchJobs(input));
    });
  });

  it('decides exactly like the obvious every-job-against-every-agent implementation', () => {
    check((input) => {
      assert.deepEqual(matchJobs(input), referenceMatch(input));
    });
  });
});
