import { expectingViolations } from './constraints.js';
import { touched, type StoreContext } from './context.js';

/**
 * Project secrets, stored as the caller encrypted them: the store never sees a plain
 * value, and only listEncrypted hands the ciphertext back (to the code that decrypts it
 * for a job).
 */
export type Secrets = {
  /** Creates or replaces. Throws NOT_FOUND when the project does not exist. */
  set(input: { projectId: number; name: string; ciphertext: string }): Promise<void>;
  delete(projectId: number, name: string): Promise<boolean>;
  /** Names and when each was last set, by name; never the values. */
  listNames(projectId: number): Promise<Array<{ name: string; updatedAt: number }>>;
  listEncrypted(projectId: number): Promise<Array<{ name: string; ciphertext: string }>>;
};

export function secrets(ctx: StoreContext): Secrets {
  const { db } = ctx;
  return {
    async set({ projectId, name, ciphertext }) {
      const now = ctx.now();
      await expectingViolations(
        () =>
          db
            .insertInto('project_secrets')
            .values({ project_id: projectId, name, ciphertext, updated_at: now })
            .onConflict((oc) => oc.columns(['project_id', 'name']).doUpdateSet({ ciphertext, updated_at: now }))
            .execute(),
        { foreignKey: `project ${projectId} does not exist` },
      );
    },

    async delete(projectId, name) {
      const result = await db
        .deleteFrom('project_secrets')
        .where('project_id', '=', projectId)
        .where('name', '=', name)
        .executeTakeFirst();
      return touched(result);
    },

    async listNames(projectId) {
      const rows = await db
        .selectFrom('project_secrets')
        .select(['name', 'updated_at'])
        .where('project_id', '=', projectId)
        .orderBy('name')
        .execute();
      return rows.map((row) => ({ name: row.name, updatedAt: row.updated_at }));
    },

    async listEncrypted(projectId) {
      return db
        .selectFrom('project_secrets')
        .select(['name', 'ciphertext'])
        .where('project_id', '=', projectId)
        .orderBy('name')
        .execute();
    },
  };
}
