import { compareJobs, type Assignment, type MatchInput } from '../../src/scheduler/index.js';

/**
 * matchJobs written the obvious way (every job against every agent): the oracle the
 * indexed implementation must agree with. Expects unique job and agent ids and limits
 * given as plain objects.
 */
export function referenceMatch(input: MatchInput): Assignment[] {
  const agents = input.agents.map((a) => ({ ...a, labels: new Set(a.labels) }));
  const running = input.runningByProject as Record<number, number>;
  const limits = input.concurrencyLimit as Record<number, number | null>;
  const started = new Map<number, number>();
  const result: Assignment[] = [];
  for (const job of [...input.pending].sort(compareJobs)) {
    const limit = limits[job.projectId];
    const count = (running[job.projectId] ?? 0) + (started.get(job.projectId) ?? 0);
    if (limit !== undefined && limit !== null && count >= limit) continue;
    const need = new Set(job.labels);
    const cpus = job.cpus ?? 0;
    const memoryMiB = job.memoryMiB ?? 0;
    const fitting = agents.filter(
      (a) => a.freeSlots >= 1 && [...need].every((l) => a.labels.has(l)) && fitsIn(cpus, a.freeCpus) && fitsIn(memoryMiB, a.freeMemoryMiB),
    );
    fitting.sort((a, b) => a.labels.size - b.labels.size || b.freeSlots - a.freeSlots || a.id - b.id);
    const chosen = fitting[0];
    if (chosen === undefined) continue;
    chosen.freeSlots -= 1;
    chosen.freeCpus -= cpus;
    chosen.freeMemoryMiB -= memoryMiB;
    started.set(job.projectId, (started.get(job.projectId) ?? 0) + 1);
    result.push({ jobId: job.id, agentId: chosen.id });
  }
  return result;
}

function fitsIn(request: number, free: number): boolean {
  return request <= 0 || request <= free + 1e-9;
}
