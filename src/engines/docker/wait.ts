import { setTimeout as delay } from 'node:timers/promises';

/** Polls check until it returns a value, every pollMs, for at most deadlineMs. */
export async function waitUntil<T>(check: () => Promise<T | undefined>, deadlineMs = 10_000, pollMs = 50): Promise<T> {
  const end = Date.now() + deadlineMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > end) throw new Error(`gave up after ${deadlineMs} ms`);
    await delay(pollMs);
  }
}
