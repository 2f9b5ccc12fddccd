import { describe } from 'node:test';
import type { StoreTarget } from './harness.js';
import { accessTests } from './suite-access.js';
import { attemptTests } from './suite-attempts.js';
import { buildTests } from './suite-builds.js';
import { lifecycleTests } from './suite-lifecycle.js';
import { projectTests } from './suite-projects.js';
import { recordTests } from './suite-records.js';

/**
 * The store's conformance suite: every database the store supports passes the same tests.
 * Each describe block gets a database of its own from the target.
 */
export function storeSuite(name: string, target: StoreTarget, options: { skip?: string } = {}): void {
  describe(name, options.skip === undefined ? {} : { skip: options.skip }, () => {
    lifecycleTests(target);
    projectTests(target);
    buildTests(target);
    attemptTests(target);
    accessTests(target);
    recordTests(target);
  });
}
