import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planProvisioning, type EngineState, type PendingJob } from '../../src/scheduler/index.js';
import { engine, frozen, job, offer, template } from './helpers.js';

function plan(unmatched: PendingJob[], engines: EngineState[], limits: Record<number, number | null> = {}, running: Record<number, number> = {}) {
  return planProvisioning(frozen({ unmatched, engines, runningByProject: running, concurrencyLimit: limits }));
}

describe('planProvisioning', () => {
  it('launches an agent of a template that has all of the job labels', () => {
    const engines = [engine('docker', { templates: [template('plain'), template('gpu', { labels: ['gpu', 'linux'] })] })];
    assert.deepEqual(plan([job(1, { labels: ['gpu'] })], engines), [{ engine: 'docker', template: 'gpu', forJobIds: [1], image: null }]);
  });

  it('launches nothing for a job that no template can run', () => {
    const engines = [engine('docker', { templates: [template('plain', { labels: ['linux'] })] })];
    assert.deepEqual(plan([job(1, { labels: ['windows'] })], engines), []);
  });

  it('does not launch a template with less cpus or memory than the job requests', () => {
    const engines = [engine('docker', { templates: [template('small', { cpus: 1 }), template('large', { cpus: 4, memoryMiB: 8192 })] })];
    assert.deepEqual(plan([job(1, { cpus: 2 })], engines), [{ engine: 'docker', template: 'large', forJobIds: [1], image: null }]);
    assert.deepEqual(plan([job(1, { memoryMiB: 16384 })], engines), []);
  });

  it('launches a template only on an engine with an offer that has its attributes', () => {
    const arm = template('arm', { attributes: { arch: 'arm64' } });
    const engines = [
      engine('a', { templates: [arm], offers: [offer('x86', { attributes: { arch: 'amd64' } })] }),
      engine('b', { templates: [arm], offers: [offer('pi', { attributes: { arch: 'arm64', rack: '2' } })] }),
    ];
    assert.deepEqual(plan([job(1)], engines), [{ engine: 'b', template: 'arm', forJobIds: [1], image: null }]);
  });

  it('launches only where an offer has room, counting the launches it has already planned', () => {
    const engines = [engine('docker', { templates: [template('t', { cpus: 2, memoryMiB: 1024 })], offers: [offer('h1', { cpus: 3 }), offer('h2', { cpus: 2 })] })];
    assert.deepEqual(plan([job(1), job(2), job(3)], engines).map((l) => l.forJobIds), [[1], [2]]);
  });

  it('never has more agents of a template than maxAgents, counting agents in every state', () => {
    const agents = [
      { template: 't', state: 'busy' as const },
      { template: 't', state: 'idle' as const },
    ];
    const engines = [engine('docker', { templates: [template('t', { maxAgents: 3 })], agents })];
    assert.deepEqual(plan([job(1), job(2)], engines), [{ engine: 'docker', template: 't', forJobIds: [1], image: null }]);
  });

  it('counts agents being provisioned as the agents of waiting jobs they can run', () => {
    const agents = [
      { template: 't', state: 'provisioning' as const },
      { template: 't', state: 'provisioning' as const },
    ];
    const engines = [engine('docker', { templates: [template('t')], agents })];
    assert.deepEqual(plan([job(1), job(2), job(3)], engines), [{ engine: 'docker', template: 't', forJobIds: [3], image: null }]);
  });

  it('does not count agents being provisioned for jobs they cannot run', () => {
    const agents = [{ template: 'plain', state: 'provisioning' as const }];
    const engines = [engine('docker', { templates: [template('plain'), template('gpu', { labels: ['gpu'] })], agents })];
    assert.deepEqual(plan([job(1, { labels: ['gpu'] })], engines), [{ engine: 'docker', template: 'gpu', forJobIds: [1], image: null }]);
  });

  it('prefers the template with the fewest labels beyond the job labels', () => {
    const templates = [template('a', { labels: ['linux', 'gpu', 'cuda'] }), template('b', { labels: ['linux'] }), template('c', { labels: ['linux', 'docker'] })];
    assert.deepEqual(plan([job(1, { labels: ['linux'] })], [engine('docker', { templates })]), [{ engine: 'docker', template: 'b', forJobIds: [1], image: null }]);
  });

  it('prefers the engine with the most room for an equally good template, then the first by name', () => {
    const small = engine('a', { templates: [template('t')], offers: [offer('h', { cpus: 2 })] });
    const large = engine('b', { templates: [template('t')], offers: [offer('h', { cpus: 6 })] });
    assert.deepEqual(plan([job(1)], [small, large]), [{ engine: 'b', template: 't', forJobIds: [1], image: null }]);
    assert.deepEqual(plan([job(1)], [large, { ...small, name: 'c', offers: large.offers }]), [{ engine: 'b', template: 't', forJobIds: [1], image: null }]);
  });

  it('launches for higher-priority jobs first when room is scarce', () => {
    const engines = [engine('docker', { templates: [template('t', { maxAgents: 1 })] })];
    assert.deepEqual(plan([job(1), job(2, { priority: 5 })], engines), [{ engine: 'docker', template: 't', forJobIds: [2], image: null }]);
  });

  it('does not launch for jobs of a project at its concurrency limit', () => {
    const engines = [engine('docker', { templates: [template('t')] })];
    const unmatched = [job(1, { projectId: 7 }), job(2, { projectId: 7 }), job(3, { projectId: 8 })];
    assert.deepEqual(plan(unmatched, engines, { 7: 2 }, { 7: 1 }).map((l) => l.forJobIds), [[1], [3]]);
  });

  it('keeps the warm pool: launches until idle and provisioning agents reach minIdle, with nothing queued', () => {
    const agents = [{ template: 't', state: 'idle' as const }, { template: 't', state: 'busy' as const }, { template: 'u', state: 'provisioning' as const }];
    const engines = [engine('docker', { templates: [template('t', { minIdle: 3 }), template('u', { minIdle: 1 })], agents })];
    assert.deepEqual(plan([], engines), [
      { engine: 'docker', template: 't', forJobIds: [], image: null },
      { engine: 'docker', template: 't', forJobIds: [], image: null },
    ]);
  });

  it('does not count agents provisioned for waiting jobs in the warm pool', () => {
    const agents = [{ template: 't', state: 'provisioning' as const }];
    const engines = [engine('docker', { templates: [template('t', { minIdle: 1 })], agents })];
    assert.deepEqual(plan([job(1)], engines), [{ engine: 'docker', template: 't', forJobIds: [], image: null }]);
  });

  it('keeps the warm pool within maxAgents and offers, sharing scarce room between templates', () => {
    const templates = [template('t', { minIdle: 5, cpus: 2 }), template('u', { minIdle: 5, cpus: 2, maxAgents: 1 })];
    const engines = [engine('docker', { templates, offers: [offer('h', { cpus: 6 })] })];
    assert.deepEqual(plan([], engines).map((l) => l.template), ['t', 'u', 't']);
  });
});
