import type { StoredEvent, Store } from '../../store/index.js';
import type { EventBus, EventType, ServerEvent } from './types.js';

export type EventBusOptions = {
  /** Live events a subscriber may have waiting before it is dropped (its stream ends; it resumes with Last-Event-ID). */
  queueLimit?: number;
  /** Events read from the store per query while catching up. */
  pageSize?: number;
};

type Subscriber = {
  queue: ServerEvent[];
  dropped: boolean;
  wake: (() => void) | null;
};

export function toServerEvent(event: StoredEvent): ServerEvent {
  return {
    id: event.id,
    type: event.type as EventType,
    projectId: event.projectId,
    payload: (event.payload ?? {}) as Record<string, unknown>,
    createdAt: event.createdAt,
  };
}

/**
 * The in-process EventBus over store.events. A subscriber first reads the store from
 * afterId, then takes live events from its queue; when a live event's id is not the next
 * one it has seen (two commits notified out of order), it reads the gap from the store, so
 * it never skips or repeats an event. Events appended by another server process reach
 * its subscribers only through the store, when they next read it.
 */
export function createEventBus(store: Store, options: EventBusOptions = {}): EventBus & { close(): void } {
  // 1000 events: several seconds of a busy server; a client further behind reconnects and reads the store.
  const queueLimit = options.queueLimit ?? 1000;
  const pageSize = options.pageSize ?? 500;
  const subscribers = new Set<Subscriber>();

  function wake(subscriber: Subscriber): void {
    const resume = subscriber.wake;
    subscriber.wake = null;
    resume?.();
  }

  return {
    notify(events) {
      if (events.length === 0) return;
      for (const subscriber of subscribers) {
        if (subscriber.dropped) continue;
        subscriber.queue.push(...events);
        if (subscriber.queue.length > queueLimit) {
          subscriber.dropped = true;
          subscriber.queue = [];
        }
        wake(subscriber);
      }
    },

    async *subscribe(afterId, signal) {
      const subscriber: Subscriber = { queue: [], dropped: false, wake: null };
      subscribers.add(subscriber);
      const onAbort = () => wake(subscriber);
      signal.addEventListener('abort', onAbort);
      let last = afterId;
      try {
        // Catch up from the store; live events queued meanwhile are filtered by id below.
        for (;;) {
          const page = await store.events.listAfter(last, pageSize);
          for (const event of page) {
            if (signal.aborted) return;
            last = event.id;
            yield toServerEvent(event);
          }
          if (page.length < pageSize) break;
        }
        while (!signal.aborted && !subscriber.dropped) {
          if (subscriber.queue.length === 0) {
            await new Promise<void>((resolve) => {
              subscriber.wake = resolve;
            });
            continue;
          }
          const batch = subscriber.queue.sort((a, b) => a.id - b.id);
          subscriber.queue = [];
          for (const event of batch) {
            if (event.id <= last) continue;
            // Possibly a gap: an earlier commit whose notify has not come yet. The store has it.
            while (event.id !== last + 1 && !signal.aborted) {
              const missed = (await store.events.listAfter(last, pageSize)).filter((e) => e.id < event.id);
              if (missed.length === 0) break; // ids may skip (a rolled-back append): nothing is missing
              for (const e of missed) {
                last = e.id;
                yield toServerEvent(e);
              }
            }
            if (signal.aborted) return;
            last = event.id;
            yield event;
          }
        }
      } finally {
        signal.removeEventListener('abort', onAbort);
        subscribers.delete(subscriber);
      }
    },

    close() {
      for (const subscriber of subscribers) {
        subscriber.dropped = true;
        wake(subscriber);
      }
    },
  };
}
