import type { Store } from '../../store/index.js';
import type { LogStore } from '../logs/index.js';
import type { Removed } from './metrics.js';

const DAY_MS = 24 * 60 * 60 * 1000;

/**
 * Deletes the job logs of builds finished more than `logsDays` ago (0: never), files
 * first, then marks the build, so a crash in between deletes them again next time
 * (removing is idempotent). A finished build runs nothing, so no append is in flight.
 * `count` is the builds whose logs went.
 */
export async function sweepExpiredLogs(options: { store: Store; logs: LogStore; logsDays: number; batch?: number }, now: number): Promise<Removed> {
  if (options.logsDays === 0) return { count: 0, bytes: 0 };
  const builds = await options.store.builds.listLogsToExpire(now - options.logsDays * DAY_MS, options.batch ?? 100);
  let bytes = 0;
  for (const build of builds) {
    for (const job of await options.store.jobs.listByBuild(build.id)) bytes += await options.logs.remove(job.id);
    await options.store.builds.markLogsExpired(build.id);
  }
  return { count: builds.length, bytes };
}
