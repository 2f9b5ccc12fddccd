import { expectingViolations } from './constraints.js';
import type { StoreContext } from './context.js';

export type WebhookDeliveries = {
  /**
   * Records a delivery; true the first time, false for a replay of the same delivery id
   * (a provider's retry, or an attacker resending a signed payload). Throws NOT_FOUND for a
   * missing project.
   */
  recordOnce(input: { projectId: number; provider: string; deliveryId: string }): Promise<boolean>;
  /** Forgets deliveries received before ts (after the provider's replay window). Returns how many. */
  pruneBefore(ts: number): Promise<number>;
};

export function webhookDeliveries(ctx: StoreContext): WebhookDeliveries {
  const { db } = ctx;
  return {
    async recordOnce({ projectId, provider, deliveryId }) {
      const result = await expectingViolations(
        () =>
          db
            .insertInto('webhook_deliveries')
            .values({ project_id: projectId, provider, delivery_id: deliveryId, received_at: ctx.now() })
            .onConflict((oc) => oc.doNothing())
            .executeTakeFirst(),
        { foreignKey: `project ${projectId} does not exist` },
      );
      return (result.numInsertedOrUpdatedRows ?? 0n) > 0n;
    },

    async pruneBefore(ts) {
      const result = await db.deleteFrom('webhook_deliveries').where('received_at', '<', ts).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
