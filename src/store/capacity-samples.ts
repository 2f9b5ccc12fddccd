import type { StoreContext } from './context.js';

/** The engines' fleet at one moment, for the capacity graph. */
export type CapacitySample = {
  at: number;
  busy: number;
  idle: number;
  provisioning: number;
  /** The cpus and memory the engines' agents hold (their templates'), whatever their state. */
  cpusInUse: number;
  memoryMiBInUse: number;
};

/** Samples of the fleet, kept in the database so the graph survives a restart of the server. */
export type CapacitySamples = {
  record(sample: CapacitySample): Promise<void>;
  /** The samples taken after `after`, oldest first. */
  since(after: number): Promise<CapacitySample[]>;
  /** Removes the samples taken before `before`; returns how many. */
  prune(before: number): Promise<number>;
};

export function capacitySamples(ctx: StoreContext): CapacitySamples {
  const { db } = ctx;
  return {
    async record(sample) {
      await db
        .insertInto('capacity_samples')
        .values({
          at: sample.at,
          busy: sample.busy,
          idle: sample.idle,
          provisioning: sample.provisioning,
          cpus_in_use: sample.cpusInUse,
          memory_mib_in_use: sample.memoryMiBInUse,
        })
        .execute();
    },

    async since(after) {
      const rows = await db.selectFrom('capacity_samples').selectAll().where('at', '>', after).orderBy('at').orderBy('id').execute();
      return rows.map((row) => ({
        at: Number(row.at),
        busy: row.busy,
        idle: row.idle,
        provisioning: row.provisioning,
        cpusInUse: Number(row.cpus_in_use),
        memoryMiBInUse: row.memory_mib_in_use,
      }));
    },

    async prune(before) {
      const result = await db.deleteFrom('capacity_samples').where('at', '<', before).executeTakeFirst();
      return Number(result.numDeletedRows);
    },
  };
}
