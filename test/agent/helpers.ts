import path from 'node:path';
import { runAgent, type AgentLogger, type AgentOptions } from '../../src/agent/index.js';
import { makeRepo, tempDir } from '../support/git-repo.js';
import { Peer } from './peer.js';

export { makeJob } from '../support/jobs.js';

/** Remembers what the agent logged, so a failing test can show it. */
export function memoryLogger(): AgentLogger & { lines: string[] } {
  const lines: string[] = [];
  const add = (level: string) => (message: string, fields?: Record<string, unknown>) =>
    lines.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`);
  return { lines, info: add('info'), warn: add('warn'), error: add('error') };
}

export type World = {
  dir: string;
  peer: Peer;
  repo: { dir: string; commit: string };
  /** Starts an agent in this process; `stop()` asks it to stop gracefully. */
  startAgent(overrides?: Partial<AgentOptions>): { done: Promise<void>; stop: () => void; workDir: string; log: ReturnType<typeof memoryLogger> };
  close(): Promise<void>;
};

/** A peer, a git repository and a temp dir; agents started through it are stopped by close. */
export async function makeWorld(): Promise<World> {
  const temp = await tempDir('agent');
  const peer = await Peer.start({ logDir: path.join(temp.dir, 'logs') });
  const repoDir = path.join(temp.dir, 'repo');
  const commit = await makeRepo(repoDir, { 'README.md': 'hello\n' });
  const agents: Array<{ done: Promise<void>; stop: () => void }> = [];
  let count = 0;
  return {
    dir: temp.dir,
    peer,
    repo: { dir: repoDir, commit },
    startAgent(overrides = {}) {
      count += 1;
      const controller = new AbortController();
      const log = memoryLogger();
      const workDir = path.join(temp.dir, `agent-${count}`);
      const done = runAgent({
        serverUrl: peer.url,
        token: peer.agentToken,
        name: `test-agent-${count}`,
        labels: [],
        capacity: { cpus: 1, memoryMiB: 1024, jobs: 1 },
        workDir,
        maxJobs: 0,
        baseEnv: process.env,
        signal: controller.signal,
        log,
        reconnect: { baseMs: 20, capMs: 200 },
        killGraceMs: 300,
        ...overrides,
      });
      const agent = { done, stop: () => controller.abort(), workDir, log };
      agents.push(agent);
      return agent;
    },
    async close() {
      for (const agent of agents) agent.stop();
      await Promise.allSettled(agents.map((agent) => agent.done));
      await peer.close();
      await temp.remove();
    },
  };
}
