import { useCallback, useEffect, useRef, useState } from 'preact/hooks';
import { events } from './api/events.js';
import type { ServerEvent } from './api/types.js';

export type Loaded<T> = { data: T | null; error: Error | null; loading: boolean; reload(): void };

/**
 * Loads data with fn, again when deps change or reload() is called. A reload keeps the
 * data on screen until the new answer replaces it (live pages don't flicker).
 */
export function useLoad<T>(fn: (signal: AbortSignal) => Promise<T>, deps: unknown[]): Loaded<T> {
  const [state, setState] = useState<{ data: T | null; error: Error | null; loading: boolean }>({ data: null, error: null, loading: true });
  const [tick, setTick] = useState(0);
  const depsKey = JSON.stringify(deps);
  const lastKey = useRef(depsKey);
  useEffect(() => {
    const abort = new AbortController();
    if (lastKey.current !== depsKey) {
      lastKey.current = depsKey;
      setState({ data: null, error: null, loading: true });
    } else setState((s) => ({ ...s, loading: true }));
    fn(abort.signal).then(
      (data) => {
        if (!abort.signal.aborted) setState({ data, error: null, loading: false });
      },
      (error: unknown) => {
        if (!abort.signal.aborted) setState((s) => ({ ...s, error: error instanceof Error ? error : new Error(String(error)), loading: false }));
      },
    );
    return () => abort.abort();
  }, [depsKey, tick]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/**
 * Calls onEvent for each server event that passes filter; bursts (a build of fifty jobs
 * finishing) are coalesced into one call per debounceMs.
 */
export function useEvents(filter: (event: ServerEvent) => boolean, onEvent: () => void, debounceMs = 300): void {
  const latest = useRef({ filter, onEvent });
  latest.current = { filter, onEvent };
  useEffect(() => {
    let timer: ReturnType<typeof setTimeout> | null = null;
    const unsubscribe = events.subscribe((event) => {
      if (!latest.current.filter(event)) return;
      if (timer !== null) return;
      timer = setTimeout(() => {
        timer = null;
        latest.current.onEvent();
      }, debounceMs);
    });
    return () => {
      unsubscribe();
      if (timer !== null) clearTimeout(timer);
    };
  }, [debounceMs]);
}

/** Re-renders every periodMs (running durations, "5s ago"). */
export function useNow(periodMs = 1000): number {
  const [now, setNow] = useState(Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), periodMs);
    return () => clearInterval(timer);
  }, [periodMs]);
  return now;
}

export function useTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Slipway`;
  }, [title]);
}

export type Submit = { busy: boolean; error: Error | null; run(fn: () => Promise<void>): Promise<void> };

/** Runs an API call from a form or button: busy while it runs, its error kept (cleared on the next run). */
export function useSubmit(): Submit {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<Error | null>(null);
  const run = async (fn: () => Promise<void>) => {
    setBusy(true);
    setError(null);
    try {
      await fn();
    } catch (caught) {
      setError(caught as Error);
    } finally {
      setBusy(false);
    }
  };
  return { busy, error, run };
}
