import type { Store } from '../../store/index.js';
import type { BuildController } from '../builds/index.js';
import type { GitMirrors } from '../git/index.js';

export type Poller = {
  /** Fetches the projects whose poll interval has passed and starts a build for a new head of the default branch. Returns how many builds it started. */
  pollDue(now: number): Promise<number>;
};

/**
 * Opt-in polling (projects with pollIntervalSeconds). The first poll of a project only
 * records the head it sees; later polls build when the head moved. When polls are due is
 * kept in memory: after a restart every polled project is polled once at once.
 */
export function createPoller(options: { store: Store; git: GitMirrors; builds: BuildController; onError: (error: unknown, projectId: number) => void }): Poller {
  const { store, git, builds } = options;
  const lastPolledAt = new Map<number, number>();
  return {
    async pollDue(now) {
      let started = 0;
      for (const project of await store.projects.listPolled()) {
        const interval = (project.pollIntervalSeconds ?? 0) * 1000;
        const last = lastPolledAt.get(project.id);
        if (last !== undefined && now - last < interval) continue;
        lastPolledAt.set(project.id, now);
        try {
          const head = await git.resolveRef(project.repositoryUrl, `refs/heads/${project.defaultBranch}`);
          if (head.sha === project.lastPolledCommit) continue;
          await store.projects.update(project.id, { lastPolledCommit: head.sha });
          if (project.lastPolledCommit === null) continue;
          await builds.trigger({
            projectId: project.id,
            ref: project.defaultBranch,
            commitSha: head.sha,
            beforeSha: project.lastPolledCommit,
            variables: {},
            source: 'poll',
          });
          started += 1;
        } catch (error) {
          options.onError(error, project.id);
        }
      }
      return started;
    },
  };
}
