import type { Logger } from 'pino';
import type { Store } from '../../store/index.js';
import type { BuildController } from '../builds/index.js';
import type { GitMirrors } from '../git/index.js';
import { createPoller } from './poll.js';
import { createScheduleRunner } from './schedules.js';

export type TriggerTimers = {
  /** Stops the timers and waits for a round in progress. Idempotent. */
  stop(): Promise<void>;
};

/**
 * The server's clockwork: every `intervalMs`, the controller's tick (delayed jobs, stuck
 * attempts), due cron schedules, and due polls. One round at a time: a slow git fetch
 * delays the next round instead of piling rounds up.
 */
export function startTriggerTimers(options: {
  store: Store;
  builds: BuildController;
  git: GitMirrors;
  logger: Logger;
  now: () => number;
  /** 1 s: cron's resolution is a minute, and a delayed job should not wait much past its time. */
  intervalMs?: number;
}): TriggerTimers {
  const { store, builds, git, logger, now } = options;
  const schedules = createScheduleRunner({ store, builds, onError: (error, scheduleId) => logger.error({ err: error, scheduleId }, 'scheduled build failed to start') });
  const poller = createPoller({ store, git, builds, onError: (error, projectId) => logger.warn({ err: error, projectId }, 'poll failed') });
  let round: Promise<void> = Promise.resolve();
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    round = (async () => {
      const at = now();
      for (const [what, step] of [
        ['tick', () => builds.tick(at)],
        ['schedules', () => schedules.runDue(at)],
        ['polls', () => poller.pollDue(at)],
      ] as const) {
        try {
          await step();
        } catch (error) {
          logger.error({ err: error, step: what }, 'trigger round failed');
        }
      }
    })().finally(() => {
      running = false;
    });
  }, options.intervalMs ?? 1000);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await round;
    },
  };
}
