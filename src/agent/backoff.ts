/**
 * Reconnect delays: exponential with full jitter (a random delay between 0 and
 * min(cap, base · 2^failures)), so that hundreds of agents cut off by one server restart
 * do not all knock again at the same instant.
 */
export function backoffMs(failures: number, options: { baseMs: number; capMs: number }, random = Math.random): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(failures, 30));
  return Math.floor(random() * ceiling);
}

/** A sleep that ends early when poked (a stop request must not wait out a backoff). */
export class Sleeper {
  private wake: (() => void) | null = null;

  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake = done;
    });
  }

  poke(): void {
    this.wake?.();
  }
}
