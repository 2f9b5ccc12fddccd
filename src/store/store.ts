import type { Kysely } from 'kysely';
import { agents, type Agents } from './agents.js';
import { artifacts, type Artifacts } from './artifacts.js';
import { attempts, type Attempts } from './attempts.js';
import { builds, type Builds } from './builds.js';
import { caches, type Caches } from './caches.js';
import { atomic, type DialectName, type StoreContext } from './context.js';
import type { Database } from './database.js';
import { engineLaunches, type EngineLaunches } from './engine-launches.js';
import { events, type Events } from './events.js';
import { jobs, type Jobs } from './jobs.js';
import { projects, type Projects } from './projects.js';
import { schedules, type Schedules } from './schedules.js';
import { stats, type Stats } from './stats.js';
import { capacitySamples, type CapacitySamples } from './capacity-samples.js';
import { secrets, type Secrets } from './secrets.js';
import { tokens, type Tokens } from './tokens.js';
import { webhookDeliveries, type WebhookDeliveries } from './webhook-deliveries.js';

/** The operations, one namespace per table group. The same inside and outside a transaction. */
export type StoreTransaction = {
  readonly dialect: DialectName;
  readonly projects: Projects;
  readonly secrets: Secrets;
  readonly schedules: Schedules;
  readonly builds: Builds;
  readonly jobs: Jobs;
  readonly attempts: Attempts;
  readonly agents: Agents;
  readonly tokens: Tokens;
  readonly events: Events;
  readonly webhookDeliveries: WebhookDeliveries;
  readonly artifacts: Artifacts;
  readonly caches: Caches;
  readonly engineLaunches: EngineLaunches;
  readonly stats: Stats;
  readonly capacitySamples: CapacitySamples;
};

/**
 * The server's database. Every operation may run concurrently with any other, from this
 * process or another one on the same database; the ones that must not interleave say how
 * they decide (compare-and-set, or a transaction).
 */
export type Store = StoreTransaction & {
  /**
   * Runs fn in one transaction: all its writes commit together when fn resolves, or none
   * does when it throws (the error is rethrown). Inside fn use only `tx`: on SQLite the
   * store has one connection, which the transaction holds, so a call on the Store itself
   * would wait for the transaction that waits for it. Operations that need a transaction of
   * their own (builds.create, attempts.assign, events.append) join this one.
   */
  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /** Closes the database connections. Idempotent; nothing may be called afterwards. */
  close(): Promise<void>;
};

function operations(ctx: StoreContext): StoreTransaction {
  return {
    dialect: ctx.dialect,
    projects: projects(ctx),
    secrets: secrets(ctx),
    schedules: schedules(ctx),
    builds: builds(ctx),
    jobs: jobs(ctx),
    attempts: attempts(ctx),
    agents: agents(ctx),
    tokens: tokens(ctx),
    events: events(ctx),
    webhookDeliveries: webhookDeliveries(ctx),
    artifacts: artifacts(ctx),
    caches: caches(ctx),
    engineLaunches: engineLaunches(ctx),
    stats: stats(ctx),
    capacitySamples: capacitySamples(ctx),
  };
}

export function makeStore(db: Kysely<Database>, dialect: DialectName, clock: () => number): Store {
  const ctx: StoreContext = { db, dialect, now: clock, inTransaction: false };
  let closing: Promise<void> | undefined;
  return {
    ...operations(ctx),
    transaction(fn) {
      return atomic(ctx, (tx) => fn(operations(tx)));
    },
    close() {
      closing ??= db.destroy();
      return closing;
    },
  };
}
