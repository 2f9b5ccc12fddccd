/**
 * The scheduler's decisions, as pure functions. The server keeps the state (queue, agents,
 * engines' offers); on every change, and every few ms, it calls these and carries out what
 * they return. Contract:
 *
 *  - Pure: no I/O, no clock (time is an argument: `now`), no randomness. The same input
 *    gives the same output, and the inputs are not modified. Nothing is remembered between
 *    calls.
 *  - Order of calls in one tick: matchJobs → carry out the assignments → planReaping (the
 *    agents just given jobs are busy) → planProvisioning with the jobs left over, runningByProject counting the new
 *    assignments, and without the agents being stopped. matchJobs runs first, so an agent
 *    still idle afterwards cannot take any waiting job: waiting jobs do not keep it.
 *  - Job order (orderJobs) is priority desc, queuedAt asc, id asc, in all functions. Fair
 *    share between projects will replace orderJobs alone.
 *  - A job that cannot be placed is skipped; later jobs still get their chance (no
 *    head-of-line blocking). A job id that appears twice is considered once.
 *  - Results are decisions, not effects: if carrying one out fails (the agent left, the
 *    engine refused), the next call sees the new state and decides again.
 *  - Requests: null cpus or memory is no request; it still takes one slot of an agent.
 *  - planProvisioning: `agents` are the engine's agents that are not being stopped; an
 *    agent in state 'provisioning' counts as the agent of one waiting job it could run.
 *    One launch is one agent for at most one job (forJobIds empty: warm pool).
 *  - Images (images.ts): matchJobs honours jobs' images when told (`images`: runsImages of
 *    the engines), planProvisioning when runsImages says so; a job naming an image runs
 *    only in an agent of that image.
 *  - planReaping stops an agent only when it is not busy; the server must not give the
 *    agents it stops any job (stop them, then match again).
 */
export { compareJobs, orderJobs, type PendingJob, type ProjectTable } from './jobs.js';
export { runsImages, type AgentImage } from './images.js';
export { matchJobs, type AgentSlot, type Assignment, type MatchInput } from './match.js';
export { planProvisioning, type EngineAgentState, type EngineState, type Launch, type ProvisionInput } from './provision.js';
export { planReaping, type Reap, type ReapAgent, type ReapInput } from './reap.js';
