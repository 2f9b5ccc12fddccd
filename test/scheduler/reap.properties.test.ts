import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { planReaping, type ReapInput } from '../../src/scheduler/index.js';
import { frozen, template } from './helpers.js';

const NOW = 10_000_000;

const reapInput: fc.Arbitrary<ReapInput> = fc
  .record({
    templates: fc.array(fc.record({ minIdle: fc.integer({ min: 0, max: 3 }), idleMinutes: fc.integer({ min: 0, max: 30 }), maxJobsPerAgent: fc.integer({ min: 0, max: 3 }) }), {
      minLength: 1,
      maxLength: 3,
    }),
    agents: fc.array(
      fc.record({
        template: fc.integer({ min: 0, max: 3 }),
        busy: fc.boolean(),
        idleMinutesAgo: fc.option(fc.integer({ min: 0, max: 60 })),
        jobsRun: fc.integer({ min: 0, max: 4 }),
      }),
      { maxLength: 15 },
    ),
  })
  .map(({ templates, agents }) => ({
    now: NOW,
    engines: [{ name: 'docker', templates: templates.map((t, i) => template(`t${i}`, t)) }],
    agents: agents.map((a, i) => ({
      id: i + 1,
      engine: 'docker',
      template: `t${a.template}`,
      busy: a.busy,
      idleSince: a.idleMinutesAgo === null ? null : NOW - a.idleMinutesAgo * 60_000,
      jobsRun: a.jobsRun,
    })),
  }));

describe('planReaping on random agents', () => {
  it('never stops a busy agent, and stops each agent at most once', () => {
    fc.assert(
      fc.property(reapInput, (input) => {
        const reaps = planReaping(frozen(input));
        assert.equal(new Set(reaps.map((r) => r.agentId)).size, reaps.length);
        for (const r of reaps) assert.equal(input.agents.find((a) => a.id === r.agentId)?.busy, false);
      }),
      { numRuns: 500 },
    );
  });

  it('always leaves minIdle idle agents of a template that had them, and stops idle ones only after idleMinutes', () => {
    fc.assert(
      fc.property(reapInput, (input) => {
        const stopped = new Map(planReaping(input).map((r) => [r.agentId, r.reason]));
        for (const t of input.engines[0]?.templates ?? []) {
          const usable = input.agents.filter(
            (a) => a.template === t.name && !a.busy && a.idleSince !== null && !(t.maxJobsPerAgent > 0 && a.jobsRun >= t.maxJobsPerAgent),
          );
          const left = usable.filter((a) => !stopped.has(a.id));
          assert.ok(left.length >= Math.min(t.minIdle, usable.length), `${t.name}: ${left.length} of ${usable.length} idle agents left, minIdle ${t.minIdle}`);
          for (const a of usable.filter((x) => stopped.has(x.id))) {
            assert.equal(stopped.get(a.id), 'idle');
            assert.ok(input.now - (a.idleSince ?? input.now) >= t.idleMinutes * 60_000);
          }
        }
      }),
      { numRuns: 500 },
    );
  });
});
