import type { AgentTemplate, Offer } from '../../src/engines/index.js';
import type { AgentSlot, EngineState, PendingJob } from '../../src/scheduler/index.js';

export function job(id: number, fields: Partial<PendingJob> = {}): PendingJob {
  return { id, projectId: 1, labels: [], cpus: null, memoryMiB: null, priority: 0, queuedAt: id, ...fields };
}

export function agent(id: number, fields: Partial<AgentSlot> = {}): AgentSlot {
  return { id, labels: [], freeSlots: 1, freeCpus: 4, freeMemoryMiB: 8192, ...fields };
}

export function template(name: string, fields: Partial<AgentTemplate> = {}): AgentTemplate {
  return { name, labels: [], cpus: 1, memoryMiB: 1024, maxAgents: 10, minIdle: 0, idleMinutes: 10, maxJobsPerAgent: 0, attributes: {}, image: null, ...fields };
}

export function offer(host: string, fields: Partial<Offer> = {}): Offer {
  return { host, cpus: 8, memoryMiB: 16384, attributes: {}, ...fields };
}

export function engine(name: string, fields: Partial<EngineState> = {}): EngineState {
  return { name, templates: [], offers: [offer(`${name}-host`)], agents: [], ...fields };
}

/** Deep-freezes a value so that a function that modifies its input throws in strict mode. */
export function frozen<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    for (const inner of Object.values(value)) frozen(inner);
    Object.freeze(value);
  }
  return value;
}
