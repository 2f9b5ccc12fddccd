/**
 * Concurrent calls for one key share one run of their work: a second stop() of a task, or
 * a second launch needing an image being pulled, waits for the run under way instead of
 * starting its own. The key is forgotten when the run settles, so a later call runs again.
 */
export function singleFlight<T>(): (key: string, work: () => Promise<T>) => Promise<T> {
  const running = new Map<string, Promise<T>>();
  return (key, work) => {
    const found = running.get(key);
    if (found !== undefined) return found;
    const run = work().finally(() => running.delete(key));
    running.set(key, run);
    return run;
  };
}
