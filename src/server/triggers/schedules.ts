import { Cron } from 'croner';
import { SlipwayError, messageOf } from '../../errors/index.js';
import type { Store } from '../../store/index.js';
import type { BuildController } from '../builds/index.js';

/** The first time after `after` (ms) that the cron expression names, in UTC; null when it never will. Throws USAGE for an invalid expression. */
export function nextRunAt(cron: string, after: number): number | null {
  let job: Cron;
  try {
    job = new Cron(cron, { paused: true, timezone: 'UTC' });
  } catch (error) {
    throw new SlipwayError('USAGE', `invalid cron expression "${cron}": ${messageOf(error)}; use five fields such as "0 3 * * *" (03:00 UTC daily)`, { cause: error });
  }
  const next = job.nextRun(new Date(after));
  job.stop();
  return next === null ? null : next.getTime();
}

export type ScheduleRunner = {
  /** Starts a build for every schedule due at `now`; each due time fires once across all servers (store.schedules.markRun decides). */
  runDue(now: number): Promise<number>;
};

export function createScheduleRunner(options: { store: Store; builds: BuildController; onError: (error: unknown, scheduleId: number) => void }): ScheduleRunner {
  const { store, builds } = options;
  return {
    async runDue(now) {
      let started = 0;
      for (const schedule of await store.schedules.due(now)) {
        if (schedule.nextRunAt === null) continue;
        let next: number | null;
        try {
          next = nextRunAt(schedule.cron, now);
        } catch (error) {
          next = null; // an expression that no longer parses stops its schedule instead of firing every tick
          options.onError(error, schedule.id);
        }
        const won = await store.schedules.markRun({ id: schedule.id, expectedNextRunAt: schedule.nextRunAt, lastRunAt: now, nextRunAt: next });
        if (!won) continue;
        try {
          await builds.trigger({ projectId: schedule.projectId, ref: schedule.ref, variables: schedule.variables, source: 'schedule' });
          started += 1;
        } catch (error) {
          options.onError(error, schedule.id);
        }
      }
      return started;
    },
  };
}
