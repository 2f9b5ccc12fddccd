import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { planProvisioning, type EngineState, type ProvisionInput } from '../../src/scheduler/index.js';
import { frozen, template as makeTemplate } from './helpers.js';

const LABELS = ['linux', 'docker', 'gpu'];
const ATTRIBUTES: Array<Record<string, string>> = [{}, { arch: 'amd64' }, { arch: 'arm64' }];

const templateFields = fc.record({
  labels: fc.subarray(LABELS),
  cpus: fc.constantFrom(0, 0.5, 1, 2, 4),
  memoryMiB: fc.constantFrom(512, 1024, 4096),
  maxAgents: fc.integer({ min: 0, max: 5 }),
  minIdle: fc.integer({ min: 0, max: 3 }),
  attributes: fc.constantFrom(...ATTRIBUTES),
});

const engineFields = fc.record({
  templates: fc.array(templateFields, { maxLength: 3 }),
  offers: fc.array(fc.record({ cpus: fc.constantFrom(0, 1, 2, 4, 8), memoryMiB: fc.constantFrom(0, 2048, 8192), attributes: fc.constantFrom(...ATTRIBUTES) }), { maxLength: 3 }),
  agents: fc.array(fc.record({ template: fc.integer({ min: 0, max: 2 }), state: fc.constantFrom('provisioning' as const, 'idle' as const, 'busy' as const) }), { maxLength: 6 }),
});

const provisionInput: fc.Arbitrary<ProvisionInput> = fc
  .record({
    jobs: fc.array(
      fc.record({
        projectId: fc.integer({ min: 1, max: 2 }),
        labels: fc.subarray(LABELS, { maxLength: 2 }),
        cpus: fc.option(fc.constantFrom(0.5, 1, 2)),
        memoryMiB: fc.option(fc.constantFrom(512, 2048)),
        priority: fc.integer({ min: 0, max: 2 }),
        queuedAt: fc.integer({ min: 0, max: 10 }),
      }),
      { maxLength: 20 },
    ),
    engines: fc.array(engineFields, { maxLength: 3 }),
    limit: fc.option(fc.integer({ min: 0, max: 4 })),
  })
  .map(({ jobs, engines, limit }) => ({
    unmatched: jobs.map((j, i) => ({ ...j, id: i + 1 })),
    engines: engines.map(
      (e, ei): EngineState => ({
        name: `engine-${ei}`,
        templates: e.templates.map((t, ti) => makeTemplate(`t${ti}`, t)),
        offers: e.offers.map((o, oi) => ({ ...o, host: `host-${oi}` })),
        agents: e.agents.map((a) => ({ template: `t${a.template}`, state: a.state })),
      }),
    ),
    runningByProject: { 1: 1 },
    concurrencyLimit: { 1: limit },
  }));

function check(property: (input: ProvisionInput) => void): void {
  fc.assert(fc.property(provisionInput, property), { numRuns: 500 });
}

describe('planProvisioning on random engines and queues', () => {
  it('never takes a template past maxAgents', () => {
    check((input) => {
      const launches = planProvisioning(frozen(input));
      for (const e of input.engines) {
        for (const t of e.templates) {
          const launched = launches.filter((l) => l.engine === e.name && l.template === t.name).length;
          const existing = e.agents.filter((a) => a.template === t.name).length;
          assert.ok(launched === 0 || existing + launched <= t.maxAgents, `${e.name}/${t.name}: ${existing} + ${launched} > ${t.maxAgents}`);
        }
      }
    });
  });

  it('never launches more than the offers of an engine can hold', () => {
    check((input) => {
      const launches = planProvisioning(input);
      for (const e of input.engines) {
        const mine = launches.filter((l) => l.engine === e.name).map((l) => e.templates.find((t) => t.name === l.template));
        const cpus = mine.reduce((sum, t) => sum + (t?.cpus ?? 0), 0);
        const memoryMiB = mine.reduce((sum, t) => sum + (t?.memoryMiB ?? 0), 0);
        assert.ok(cpus <= e.offers.reduce((sum, o) => sum + o.cpus, 0) + 1e-6);
        assert.ok(memoryMiB <= e.offers.reduce((sum, o) => sum + o.memoryMiB, 0));
        for (const t of e.templates) {
          const hosts = e.offers.filter((o) => Object.entries(t.attributes).every(([k, v]) => o.attributes[k] === v));
          const most = hosts.reduce((sum, o) => sum + Math.min(t.cpus > 0 ? Math.floor(o.cpus / t.cpus) : Infinity, Math.floor(o.memoryMiB / t.memoryMiB)), 0);
          assert.ok(mine.filter((m) => m === t).length <= most, `${e.name}/${t.name} launched beyond its offers`);
        }
      }
    });
  });

  it('launches at most one agent per job, of a template that can run it', () => {
    check((input) => {
      const ids = planProvisioning(input).flatMap((l) => l.forJobIds.map((id) => ({ id, l })));
      assert.equal(new Set(ids.map(({ id }) => id)).size, ids.length);
      for (const { id, l } of ids) {
        const j = input.unmatched.find((u) => u.id === id);
        const t = input.engines.find((e) => e.name === l.engine)?.templates.find((x) => x.name === l.template);
        assert.ok(j !== undefined && t !== undefined);
        assert.ok(j.labels.every((label) => t.labels.includes(label)));
        assert.ok((j.cpus ?? 0) <= t.cpus && (j.memoryMiB ?? 0) <= t.memoryMiB);
      }
    });
  });

  it('plans the same whatever the order of engines and templates in the input', () => {
    check((input) => {
      const reordered = { ...input, engines: [...input.engines].reverse().map((e) => ({ ...e, templates: [...e.templates].reverse() })) };
      assert.deepEqual(planProvisioning(reordered), planProvisioning(input));
    });
  });
});
