import { useEffect, useState } from 'preact/hooks';
import { get, request } from '../api/client.js';
import { events } from '../api/events.js';
import type { LogPage } from '../api/types.js';
import { LogDocument } from './document.js';

export type LogState = { doc: LogDocument; version: number; loading: boolean; error: Error | null; openMs: number | null };

type Keyed = LogState & { key: string };

/**
 * A job attempt's log: the whole text first (one raw read, however long), then what it
 * grows by, read from the byte offset reached whenever a job.log event says it grew. The
 * server sends a job.log after every growth (the last one too), so no other event or
 * timer needs to read it.
 */
export function useJobLog(jobId: number, attempt: number): LogState {
  const key = `${jobId}/${attempt}`;
  const [state, setState] = useState<Keyed>(() => ({ key, doc: new LogDocument(), version: 0, loading: attempt > 0, error: null, openMs: null }));
  useEffect(() => {
    const doc = new LogDocument();
    const abort = new AbortController();
    const started = performance.now();
    setState({ key, doc, version: 0, loading: attempt > 0, error: null, openMs: null });
    if (attempt === 0) return () => abort.abort();
    let reading = false;
    let again = false;
    let ready = false;
    const publish = (extra: Partial<LogState> = {}) => setState((s) => ({ ...s, doc, version: doc.version, ...extra }));
    const fail = (error: unknown) => {
      if (!abort.signal.aborted) publish({ error: error instanceof Error ? error : new Error(String(error)), loading: false });
    };
    // Reads from the offset reached until the end known now; one read at a time. A growth
    // told during the first read or another read is read once that one ends.
    const readMore = async (): Promise<void> => {
      if (!ready || reading) {
        again = true;
        return;
      }
      reading = true;
      try {
        do {
          again = false;
          for (;;) {
            const page = await get<LogPage>(`/api/v1/jobs/${jobId}/log?attempt=${attempt}&offset=${doc.byteOffset}`, abort.signal);
            if (page.nextOffset <= doc.byteOffset) break;
            doc.append(page.text, page.nextOffset - doc.byteOffset);
            publish();
            if (page.nextOffset >= page.size) break;
          }
        } while (again && !abort.signal.aborted);
      } finally {
        reading = false;
      }
    };
    const unsubscribe = events.subscribe((event) => {
      if (event.type !== 'job.log' || event.payload.jobId !== jobId || event.payload.attempt !== attempt) return;
      if (typeof event.payload.size === 'number' && event.payload.size <= doc.byteOffset) return;
      readMore().catch(fail);
    });
    // The stream's first connection tells only what happens after it is made (a reconnect
    // resumes): a growth before that, while this page was already reading, is read then.
    const stopWatching = events.onStatus((connected) => {
      if (connected) readMore().catch(fail);
    });
    void (async () => {
      const response = await request('GET', `/api/v1/jobs/${jobId}/log/raw?attempt=${attempt}`, undefined, { signal: abort.signal });
      const buffer = await response.arrayBuffer();
      // fatal: false — a read may end inside a character; the replacement shows it.
      doc.append(new TextDecoder().decode(buffer), buffer.byteLength);
      ready = true;
      publish({ loading: false, openMs: performance.now() - started });
      if (again) await readMore();
    })().catch(fail);
    return () => {
      abort.abort();
      unsubscribe();
      stopWatching();
    };
  }, [jobId, attempt, key]);
  // Until the effect for a new attempt has run, the state still holds the last one's log.
  return state.key === key ? state : { doc: new LogDocument(), version: 0, loading: attempt > 0, error: null, openMs: null };
}
