import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planReaping, type ReapAgent } from '../../src/scheduler/index.js';
import { frozen, template } from './helpers.js';

const MINUTE = 60_000;
const NOW = 1_000 * MINUTE;

function idleAgent(id: number, idleMinutes: number, fields: Partial<ReapAgent> = {}): ReapAgent {
  return { id, engine: 'docker', template: 't', busy: false, idleSince: NOW - idleMinutes * MINUTE, jobsRun: 1, ...fields };
}

function reap(agents: ReapAgent[], fields: Parameters<typeof template>[1] = {}) {
  return planReaping(frozen({ now: NOW, agents, engines: [{ name: 'docker', templates: [template('t', { idleMinutes: 10, ...fields })] }] }));
}

describe('planReaping', () => {
  it('stops an agent that has been idle for idleMinutes', () => {
    assert.deepEqual(reap([idleAgent(1, 10), idleAgent(2, 9.9)]), [{ agentId: 1, reason: 'idle' }]);
  });

  it('keeps the minIdle most recently idle agents of a template, however long they have been idle', () => {
    const agents = [idleAgent(1, 30), idleAgent(2, 20), idleAgent(3, 50), idleAgent(4, 1)];
    assert.deepEqual(reap(agents, { minIdle: 2 }), [
      { agentId: 1, reason: 'idle' },
      { agentId: 3, reason: 'idle' },
    ]);
  });

  it('counts the warm pool per template and per engine', () => {
    const agents = [idleAgent(1, 30), idleAgent(2, 30, { template: 'u' }), idleAgent(3, 30, { engine: 'swarm' })];
    const engines = [
      { name: 'docker', templates: [template('t', { minIdle: 1 }), template('u', { minIdle: 1 })] },
      { name: 'swarm', templates: [template('t', { minIdle: 0 })] },
    ];
    assert.deepEqual(planReaping({ now: NOW, agents, engines }), [{ agentId: 3, reason: 'idle' }]);
  });

  it('stops an agent that has run maxJobsPerAgent jobs as soon as it is not busy, warm pool or not', () => {
    const agents = [idleAgent(1, 0, { jobsRun: 3 }), idleAgent(2, 0, { jobsRun: 2 }), idleAgent(3, 0, { jobsRun: 3, busy: true })];
    assert.deepEqual(reap(agents, { maxJobsPerAgent: 3, minIdle: 5 }), [{ agentId: 1, reason: 'max_jobs' }]);
  });

  it('puts no limit on jobs per agent when maxJobsPerAgent is 0', () => {
    assert.deepEqual(reap([idleAgent(1, 0, { jobsRun: 10_000 })], { maxJobsPerAgent: 0 }), []);
  });

  it('never stops a busy agent', () => {
    assert.deepEqual(reap([idleAgent(1, 60, { busy: true }), idleAgent(2, 60, { busy: true, jobsRun: 5 })], { maxJobsPerAgent: 1 }), []);
  });

  it('does not stop an agent that has not become idle yet', () => {
    assert.deepEqual(reap([idleAgent(1, 0, { idleSince: null, jobsRun: 0 })], { idleMinutes: 0 }), []);
  });

  it('stops an idle agent whose template is no longer configured', () => {
    assert.deepEqual(reap([idleAgent(1, 0, { template: 'gone' }), idleAgent(2, 0, { template: 'gone', busy: true })]), [{ agentId: 1, reason: 'idle' }]);
  });
});
