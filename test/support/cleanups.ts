import { after, afterEach } from 'node:test';

/**
 * A stack of cleanups for the describe that calls this: what a test pushes runs newest
 * first after that test, and whatever is still there (a test that threw) after the suite.
 */
export function cleanupsAfterEach(): Array<() => Promise<void>> {
  const cleanups: Array<() => Promise<void>> = [];
  const runAll = async (): Promise<void> => {
    while (cleanups.length > 0) await cleanups.pop()?.();
  };
  afterEach(runAll);
  after(runAll);
  return cleanups;
}
