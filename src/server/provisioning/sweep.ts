import type { Logger } from 'pino';
import type { Store } from '../../store/index.js';
import type { ManagedEngine } from './engines.js';
import type { ProvisioningMetrics } from './metrics.js';

export type SweepInput = {
  store: Store;
  engines: readonly ManagedEngine[];
  metrics: ProvisioningMetrics;
  logger: Logger;
  now: number;
  /** Tasks younger than this are left alone: one just launched may not be recorded yet. */
  graceMs: number;
  /** Whether the manager owns a live agent of this name on this engine (launched or adopted, not finished). */
  owns(engine: string, agentName: string): boolean;
  /** Whether the manager is starting or running services for this attempt now. */
  servicesInUse(attemptId: number): boolean;
};

/**
 * The periodic half of reconciliation (start-up is reconcile.ts): removes, past a grace
 * period, running agent tasks the manager does not own (their launch ended, or was never
 * recorded: a crash, a stop that failed) and service tasks whose attempt ended. Exited
 * agent tasks are the engine's to remove (it keeps them a while for their logs).
 */
export async function sweepLeaks(input: SweepInput): Promise<void> {
  const { logger } = input;
  const old = (startedAt: number): boolean => input.now - startedAt >= input.graceMs;
  for (const { engine } of input.engines) {
    for (const task of await engine.list()) {
      if (task.state === 'exited' || !old(task.startedAt) || input.owns(engine.name, task.agentName)) continue;
      logger.warn({ engine: engine.name, taskId: task.id, agentName: task.agentName }, 'removing a leaked agent task');
      await engine.stop(task.id);
      input.metrics.leaksRemoved.inc({ engine: engine.name, kind: 'agent' });
    }
    if (engine.listServices === undefined || engine.stopServices === undefined) continue;
    // Services by attempt: an attempt's several services cost one read of the store.
    const attempts = new Map<number, number>();
    for (const service of await engine.listServices()) {
      if (!old(service.startedAt) || input.servicesInUse(service.attemptId)) continue;
      attempts.set(service.attemptId, (attempts.get(service.attemptId) ?? 0) + 1);
    }
    for (const [attemptId, count] of attempts) {
      const attempt = await input.store.attempts.get(attemptId);
      if (attempt !== null && attempt.finishedAt === null) continue;
      logger.warn({ engine: engine.name, attemptId }, 'removing the leaked services of an attempt that ended');
      await engine.stopServices(attemptId);
      input.metrics.leaksRemoved.inc({ engine: engine.name, kind: 'service' }, count);
    }
  }
}
