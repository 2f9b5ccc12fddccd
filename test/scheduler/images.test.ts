import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { matchJobs, planProvisioning, planReaping, type AgentSlot, type EngineState, type PendingJob } from '../../src/scheduler/index.js';
import { agent, engine, frozen, job, offer, template } from './helpers.js';

function match(pending: PendingJob[], agents: AgentSlot[], images = true) {
  return matchJobs(frozen({ pending, agents, runningByProject: {}, concurrencyLimit: {}, images }));
}

function plan(unmatched: PendingJob[], engines: EngineState[]) {
  return planProvisioning(frozen({ unmatched, engines, runningByProject: {}, concurrencyLimit: {} }));
}

describe('matchJobs with images', () => {
  it('gives a job naming an image only to an agent running that image', () => {
    const agents = [agent(1, { image: 'node:20' }), agent(2, { image: 'python:3', freeSlots: 3 }), agent(3)];
    assert.deepEqual(match([job(10, { image: 'python:3' })], agents), [{ jobId: 10, agentId: 2 }]);
    assert.deepEqual(match([job(10, { image: 'ruby:3' })], agents), []);
  });

  it('gives a job naming no image to a template agent or an agent without image, never to one launched for another image', () => {
    const agents = [agent(1, { image: 'python:3', pinned: true, freeSlots: 4 }), agent(2, { image: 'slipway/base' })];
    assert.deepEqual(match([job(10)], agents), [{ jobId: 10, agentId: 2 }]);
    assert.deepEqual(match([job(10)], [agent(3, { image: 'python:3', pinned: true })]), []);
    assert.deepEqual(match([job(10)], [agent(4)]), [{ jobId: 10, agentId: 4 }]);
  });

  it('gives a job naming an image to an agent launched with that image', () => {
    assert.deepEqual(match([job(10, { image: 'python:3' })], [agent(1, { image: 'python:3', pinned: true })]), [{ jobId: 10, agentId: 1 }]);
  });

  it('ignores images when no engine runs them', () => {
    assert.deepEqual(match([job(10, { image: 'python:3' })], [agent(1)], false), [{ jobId: 10, agentId: 1 }]);
  });

  it('gives every job naming an image to an agent of that image, on random queues', () => {
    const images = fc.constantFrom(null, 'a', 'b');
    fc.assert(
      fc.property(
        fc.array(fc.record({ image: images, labels: fc.subarray(['x', 'y']) }), { maxLength: 20 }),
        fc.array(fc.record({ image: images, pinned: fc.boolean(), freeSlots: fc.integer({ min: 0, max: 3 }) }), { maxLength: 6 }),
        (jobs, slots) => {
          const pending = jobs.map((fields, i) => job(i + 1, fields));
          const agents = slots.map((fields, i) => agent(100 + i, { ...fields, pinned: fields.pinned && fields.image !== null }));
          for (const { jobId, agentId } of match(pending, agents)) {
            const j = pending.find((p) => p.id === jobId);
            const a = agents.find((p) => p.id === agentId);
            assert.ok(j !== undefined && a !== undefined);
            if ((j.image ?? null) === null) assert.equal(a.pinned, false);
            else assert.equal(a.image, j.image);
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('planProvisioning with images', () => {
  const imageTemplate = template('job-image', { cpus: 1, memoryMiB: 512 });

  it('launches the template serving the job labels with the job image when its own differs', () => {
    const engines = [engine('docker', { templates: [template('build', { labels: ['docker'], image: 'slipway/build' })], imageTemplate })];
    assert.deepEqual(plan([job(1, { labels: ['docker'], image: 'python:3' })], engines), [{ engine: 'docker', template: 'build', forJobIds: [1], image: 'python:3' }]);
    assert.deepEqual(plan([job(1, { labels: ['docker'], image: 'slipway/build' })], engines), [{ engine: 'docker', template: 'build', forJobIds: [1], image: null }]);
    assert.deepEqual(plan([job(1, { labels: ['docker'] })], engines), [{ engine: 'docker', template: 'build', forJobIds: [1], image: null }]);
  });

  it('prefers the image template to a template with extra labels for a job naming an image, and a template with exactly its labels to both', () => {
    const engines = [engine('docker', { templates: [template('build', { labels: ['docker'], image: 'slipway/build' })], imageTemplate })];
    assert.deepEqual(plan([job(1, { image: 'python:3' })], engines), [{ engine: 'docker', template: 'job-image', forJobIds: [1], image: 'python:3' }]);
    const plain = [engine('docker', { templates: [template('plain', { image: 'slipway/base' })], imageTemplate })];
    assert.deepEqual(plan([job(1, { image: 'python:3' })], plain), [{ engine: 'docker', template: 'plain', forJobIds: [1], image: 'python:3' }]);
  });

  it('launches the image template for a job naming an image whose labels no template serves', () => {
    const engines = [engine('docker', { templates: [template('build', { labels: ['docker'], image: 'slipway/build' })], imageTemplate })];
    const local = engine('local', { templates: [template('default')] });
    assert.deepEqual(plan([job(1, { image: 'python:3' })], [engine('docker', { templates: [], imageTemplate }), local]), [
      { engine: 'docker', template: 'job-image', forJobIds: [1], image: 'python:3' },
    ]);
    // A job without image and no labels runs on the local engine; the image template takes only jobs naming an image.
    assert.deepEqual(plan([job(1)], [engine('docker', { templates: [], imageTemplate }), local]), [{ engine: 'local', template: 'default', forJobIds: [1], image: null }]);
    assert.deepEqual(plan([job(1, { labels: ['gpu'], image: 'python:3' })], engines), []);
  });

  it('never launches a template without image for a job naming an image, when images are honoured', () => {
    const engines = [engine('local', { templates: [template('default', { labels: ['z'] })] }), engine('docker', { templates: [template('base', { labels: ['x'], image: 'slipway/base' })] })];
    assert.deepEqual(plan([job(1, { labels: ['z'], image: 'python:3' })], engines), []);
  });

  it('ignores images when no engine runs them', () => {
    assert.deepEqual(plan([job(1, { image: 'python:3' })], [engine('local', { templates: [template('default')] })]), [
      { engine: 'local', template: 'default', forJobIds: [1], image: null },
    ]);
  });

  it('counts an agent being provisioned only for jobs of its image, and maxAgents over all images of a template', () => {
    const build = template('build', { image: 'slipway/build', maxAgents: 2 });
    const engines = [engine('docker', { templates: [build], agents: [{ template: 'build', state: 'provisioning', image: 'python:3' }] })];
    // The python agent covers job 1; job 2 (own image) gets the last slot; job 3 finds maxAgents reached.
    assert.deepEqual(plan([job(1, { image: 'python:3' }), job(2), job(3, { image: 'ruby:3' })], engines), [{ engine: 'docker', template: 'build', forJobIds: [2], image: null }]);
  });

  it('keeps the warm pool in the template own image only', () => {
    const base = template('base', { image: 'slipway/base', minIdle: 1 });
    const engines = [engine('docker', { templates: [base], agents: [{ template: 'base', state: 'idle', image: 'python:3' }] })];
    assert.deepEqual(plan([], engines), [{ engine: 'docker', template: 'base', forJobIds: [], image: null }]);
  });

  it('places a template only on the engine whose host has its attributes and room', () => {
    const ssd = template('ssd', { image: 'slipway/base', attributes: { disk: 'ssd' }, cpus: 2, memoryMiB: 2048 });
    const engines = [
      engine('east', { templates: [ssd], offers: [offer('east', { attributes: { disk: 'hdd' } })] }),
      engine('west', { templates: [ssd], offers: [offer('west', { attributes: { disk: 'ssd' }, cpus: 2, memoryMiB: 4096 })] }),
    ];
    assert.deepEqual(plan([job(1), job(2)], engines), [{ engine: 'west', template: 'ssd', forJobIds: [1], image: null }]);
    const small = [engine('east', { templates: [ssd], offers: [offer('east', { attributes: { disk: 'ssd' }, cpus: 1 })] }), engines[1] as EngineState];
    assert.deepEqual(plan([job(1)], small), [{ engine: 'west', template: 'ssd', forJobIds: [1], image: null }]);
  });
});

describe('planReaping with images and retirement', () => {
  const engines = [{ name: 'docker', templates: [template('base', { minIdle: 1, idleMinutes: 1 })] }];

  it('stops an agent marked to retire once it is not busy', () => {
    const agents = [
      { id: 1, engine: 'docker', template: 'base', busy: false, idleSince: 0, jobsRun: 1, retire: true },
      { id: 2, engine: 'docker', template: 'base', busy: true, idleSince: null, jobsRun: 1, retire: true },
    ];
    assert.deepEqual(planReaping(frozen({ now: 1, agents, engines })), [{ agentId: 1, reason: 'retired' }]);
  });

  it('keeps no agent of a job image as the warm pool', () => {
    const agents = [
      { id: 1, engine: 'docker', template: 'base', busy: false, idleSince: 0, jobsRun: 1, image: 'python:3' },
      { id: 2, engine: 'docker', template: 'base', busy: false, idleSince: 0, jobsRun: 1 },
    ];
    assert.deepEqual(planReaping(frozen({ now: 120_000, agents, engines })), [{ agentId: 1, reason: 'idle' }]);
  });
});
