import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { matchJobs, type AgentSlot, type PendingJob } from '../../src/scheduler/index.js';
import { agent, frozen, job } from './helpers.js';

function match(pending: PendingJob[], agents: AgentSlot[], limits: Record<number, number | null> = {}, running: Record<number, number> = {}) {
  return matchJobs(frozen({ pending, agents, runningByProject: running, concurrencyLimit: limits }));
}

describe('matchJobs', () => {
  it('gives each job to an agent that has all of its labels', () => {
    const agents = [agent(1, { labels: ['linux'] }), agent(2, { labels: ['linux', 'docker'] })];
    assert.deepEqual(match([job(10, { labels: ['docker', 'linux'] })], agents), [{ jobId: 10, agentId: 2 }]);
  });

  it('does not give a job to an agent that lacks one of its labels', () => {
    const agents = [agent(1, { labels: ['linux'] }), agent(2, { labels: ['docker'] })];
    assert.deepEqual(match([job(10, { labels: ['docker', 'linux'] })], agents), []);
  });

  it('gives a job without labels to any agent', () => {
    assert.deepEqual(match([job(10)], [agent(1, { labels: ['gpu', 'linux'] })]), [{ jobId: 10, agentId: 1 }]);
  });

  it('gives a job only to an agent with enough free cpus and memory', () => {
    const agents = [agent(1, { freeCpus: 1, freeMemoryMiB: 8192 }), agent(2, { freeCpus: 8, freeMemoryMiB: 1024 }), agent(3, { freeCpus: 8, freeMemoryMiB: 8192 })];
    assert.deepEqual(match([job(10, { cpus: 2, memoryMiB: 2048 })], agents), [{ jobId: 10, agentId: 3 }]);
  });

  it('counts a job without requests as using no resources but still needing a free slot', () => {
    const agents = [agent(1, { freeSlots: 0 }), agent(2, { freeSlots: 2, freeCpus: 0, freeMemoryMiB: 0 })];
    assert.deepEqual(match([job(10), job(11), job(12)], agents), [
      { jobId: 10, agentId: 2 },
      { jobId: 11, agentId: 2 },
    ]);
  });

  it('takes one slot and the requested resources from the agent for each job', () => {
    const agents = [agent(1, { freeSlots: 3, freeCpus: 4, freeMemoryMiB: 4096 })];
    const pending = [job(10, { cpus: 3 }), job(11, { cpus: 2 }), job(12, { cpus: 1, memoryMiB: 4096 }), job(13)];
    assert.deepEqual(match(pending, agents), [
      { jobId: 10, agentId: 1 },
      { jobId: 12, agentId: 1 },
      { jobId: 13, agentId: 1 },
    ]);
  });

  it('fits ten jobs of 0.1 cpu in one free cpu despite rounding', () => {
    const pending = Array.from({ length: 11 }, (_, i) => job(i + 1, { cpus: 0.1 }));
    assert.equal(match(pending, [agent(1, { freeSlots: 20, freeCpus: 1 })]).length, 10);
  });

  it('never runs more jobs of a project than its limit, counting running jobs and this call', () => {
    const pending = [job(1, { projectId: 7 }), job(2, { projectId: 7 }), job(3, { projectId: 7 }), job(4, { projectId: 8 })];
    const agents = [agent(1, { freeSlots: 10 })];
    assert.deepEqual(match(pending, agents, { 7: 3 }, { 7: 1 }).map((a) => a.jobId), [1, 2, 4]);
  });

  it('reads running counts and limits from a Map as well as from an object', () => {
    const pending = [job(1, { projectId: 7 }), job(2, { projectId: 7 })];
    const result = matchJobs({ pending, agents: [agent(1, { freeSlots: 10 })], runningByProject: new Map([[7, 1]]), concurrencyLimit: new Map([[7, 2]]) });
    assert.deepEqual(result, [{ jobId: 1, agentId: 1 }]);
  });

  it('treats a missing or null limit as no limit and a limit of 0 as none at all', () => {
    const pending = [job(1, { projectId: 1 }), job(2, { projectId: 2 }), job(3, { projectId: 3 }), job(4, { projectId: 3 })];
    assert.deepEqual(match(pending, [agent(1, { freeSlots: 10 })], { 1: 0, 2: null }).map((a) => a.jobId), [2, 3, 4]);
  });

  it('gives higher-priority jobs their agents first', () => {
    const pending = [job(1, { priority: 0, queuedAt: 1 }), job(2, { priority: 5, queuedAt: 9 })];
    assert.deepEqual(match(pending, [agent(1)]), [{ jobId: 2, agentId: 1 }]);
  });

  it('serves jobs of one priority in the order they were queued, then by id', () => {
    const pending = [job(3, { queuedAt: 20 }), job(2, { queuedAt: 10 }), job(1, { queuedAt: 20 })];
    assert.deepEqual(match(pending, [agent(1, { freeSlots: 3 })]).map((a) => a.jobId), [2, 1, 3]);
  });

  it('keeps agents with extra labels for the jobs that need them', () => {
    const agents = [agent(1, { labels: ['linux', 'gpu'], freeSlots: 5 }), agent(2, { labels: ['linux'] })];
    const pending = [job(1, { labels: ['linux'] }), job(2, { labels: ['linux', 'gpu'] })];
    assert.deepEqual(match(pending, agents), [
      { jobId: 1, agentId: 2 },
      { jobId: 2, agentId: 1 },
    ]);
  });

  it('prefers the agent with the most free slots, then the lowest id, among equally labelled ones', () => {
    const agents = [agent(5, { freeSlots: 2 }), agent(3, { freeSlots: 2 }), agent(1, { freeSlots: 1 })];
    assert.deepEqual(match([job(1), job(2), job(3)], agents), [
      { jobId: 1, agentId: 3 },
      { jobId: 2, agentId: 5 },
      { jobId: 3, agentId: 1 },
    ]);
  });

  it('skips a job that fits nowhere and still places the jobs after it', () => {
    const pending = [job(1, { priority: 9, labels: ['windows'] }), job(2, { priority: 8, cpus: 64 }), job(3)];
    assert.deepEqual(match(pending, [agent(1)]), [{ jobId: 3, agentId: 1 }]);
  });

  it('considers a job listed twice only once', () => {
    assert.deepEqual(match([job(1), job(1)], [agent(1, { freeSlots: 2 })]), [{ jobId: 1, agentId: 1 }]);
  });

  it('treats repeated labels like single ones', () => {
    assert.deepEqual(match([job(1, { labels: ['a', 'a'] })], [agent(1, { labels: ['a'] })]), [{ jobId: 1, agentId: 1 }]);
  });

  it('assigns nothing when no agent has a free slot', () => {
    assert.deepEqual(match([job(1)], [agent(1, { freeSlots: 0 }), agent(2, { freeSlots: -1 })]), []);
  });
});
