// matchJobs on a large queue: 10,000 pending jobs and 500 agents, 30 runs per scenario.
// The naive row is the every-job-against-every-agent oracle of the tests, for scale.
import { performance } from 'node:perf_hooks';
import { matchJobs, type AgentSlot, type MatchInput, type PendingJob } from '../src/scheduler/index.js';
import { referenceMatch } from '../test/scheduler/reference.js';
import { report, summarize, type Row } from './lib/report.js';

const RUNS = 30;
const JOBS = 10_000;
const AGENTS = 500;

/** A seeded generator, so every run and every machine measures the same input. */
function random(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state * 1_103_515_245 + 12_345) % 2 ** 31;
    return state / 2 ** 31;
  };
}

const AGENT_LABELS = [['linux'], ['linux', 'docker'], ['linux', 'docker', 'large'], ['linux', 'gpu'], ['arm64', 'linux'], ['windows']];
const JOB_LABELS = [[], ['linux'], ['docker'], ['docker', 'large'], ['gpu'], ['arm64'], ['windows']];

function input(options: { slots: number; jobLabels: (i: number, r: () => number) => string[]; cpus: (r: () => number) => number | null }): MatchInput {
  const r = random(42);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(r() * list.length)] as T;
  const agents: AgentSlot[] = Array.from({ length: AGENTS }, (_, i) => ({
    id: i + 1,
    labels: pick(AGENT_LABELS),
    freeSlots: options.slots,
    freeCpus: 4 * options.slots,
    freeMemoryMiB: 8192 * options.slots,
  }));
  const pending: PendingJob[] = Array.from({ length: JOBS }, (_, i) => ({
    id: i + 1,
    projectId: 1 + Math.floor(r() * 50),
    labels: options.jobLabels(i, r),
    cpus: options.cpus(r),
    memoryMiB: r() < 0.5 ? null : pick([512, 1024, 4096]),
    priority: pick([0, 0, 0, 1, 2]),
    queuedAt: i,
  }));
  const limits = Object.fromEntries(Array.from({ length: 50 }, (_, p) => [p + 1, p % 5 === 0 ? 20 : null]));
  return { pending, agents, runningByProject: {}, concurrencyLimit: limits };
}

function time(match: (input: MatchInput) => unknown, data: MatchInput, runs: number): { p50: number; p90: number; assigned: number } {
  const samples: number[] = [];
  let assigned = 0;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    const result = match(data) as unknown[];
    samples.push(performance.now() - start);
    assigned = result.length;
  }
  const { p50, p90 } = summarize(samples);
  return { p50, p90, assigned };
}

const scenarios: Array<{ what: string; data: MatchInput }> = [
  { what: 'backlog: 4 slots per agent (2,000 slots)', data: input({ slots: 4, jobLabels: (_, r) => JOB_LABELS[Math.floor(r() * JOB_LABELS.length)] ?? [], cpus: (r) => (r() < 0.5 ? null : 1) }) },
  { what: '40 slots per agent (20,000 slots)', data: input({ slots: 40, jobLabels: (_, r) => JOB_LABELS[Math.floor(r() * JOB_LABELS.length)] ?? [], cpus: (r) => (r() < 0.5 ? null : 1) }) },
  { what: 'nothing fits: every job asks 64 cpus', data: input({ slots: 4, jobLabels: () => [], cpus: () => 64 }) },
  { what: 'distinct label set per job (10,000 sets)', data: input({ slots: 40, jobLabels: (i) => ['linux', `tag-${i}`], cpus: () => null }) },
];

const rows: Row[] = [];
for (const { what, data } of scenarios) {
  time(matchJobs, data, 3); // warm-up: let the JIT compile before measuring
  const t = time(matchJobs, data, RUNS);
  rows.push({ implementation: 'matchJobs', scenario: what, assigned: t.assigned, 'p50 ms': t.p50, 'p90 ms': t.p90 });
}
const baseline = scenarios[1];
if (baseline !== undefined) {
  const t = time(referenceMatch, baseline.data, 3);
  rows.push({ implementation: 'naive (3 runs)', scenario: baseline.what, assigned: t.assigned, 'p50 ms': t.p50, 'p90 ms': t.p90 });
}
await report('scheduler', `matchJobs: ${JOBS.toLocaleString('en')} pending jobs, ${AGENTS} agents, ${RUNS} runs`, rows);
