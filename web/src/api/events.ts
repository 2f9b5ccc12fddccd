import { authHeaders } from './client.js';
import type { ServerEvent } from './types.js';

type Listener = (event: ServerEvent) => void;

/** Splits a text/event-stream into events; fields per the HTML standard (id, event, data). */
class SseParser {
  private buffer = '';
  private data: string[] = [];
  private id: string | null = null;
  private type = 'message';
  private readonly emit: (event: { id: string | null; type: string; data: string }) => void;
  constructor(emit: (event: { id: string | null; type: string; data: string }) => void) {
    this.emit = emit;
  }

  push(text: string): void {
    this.buffer += text;
    for (;;) {
      const newline = this.buffer.search(/\r\n|\r|\n/);
      if (newline < 0) return;
      const line = this.buffer.slice(0, newline);
      this.buffer = this.buffer.slice(newline + (this.buffer.startsWith('\r\n', newline) ? 2 : 1));
      this.line(line);
    }
  }

  private line(line: string): void {
    if (line === '') {
      if (this.data.length > 0) this.emit({ id: this.id, type: this.type, data: this.data.join('\n') });
      this.data = [];
      this.type = 'message';
      return;
    }
    if (line.startsWith(':')) return;
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'data') this.data.push(value);
    else if (field === 'event') this.type = value;
    else if (field === 'id') this.id = value;
  }
}

/**
 * One shared connection to GET /api/v1/events for the whole app, read with fetch (an
 * EventSource can't send the Authorization header). It reconnects with Last-Event-ID, so
 * no event is missed or seen twice across a dropped connection.
 */
class EventStream {
  private listeners = new Set<Listener>();
  private statusListeners = new Set<(live: boolean) => void>();
  private lastId: string | null = null;
  private abort: AbortController | null = null;
  private retryMs = 500;
  live = false;

  subscribe(listener: Listener): () => void {
    this.listeners.add(listener);
    if (this.abort === null) this.start();
    return () => {
      this.listeners.delete(listener);
    };
  }

  onStatus(listener: (live: boolean) => void): () => void {
    this.statusListeners.add(listener);
    return () => {
      this.statusListeners.delete(listener);
    };
  }

  stop(): void {
    this.abort?.abort();
    this.abort = null;
    this.lastId = null;
    this.setLive(false);
  }

  private setLive(live: boolean): void {
    if (this.live === live) return;
    this.live = live;
    for (const listener of this.statusListeners) listener(live);
  }

  private start(): void {
    const abort = new AbortController();
    this.abort = abort;
    void this.run(abort)
      .catch((error: unknown) => {
        // Handled by reconnecting below; the header shows "Offline" meanwhile.
        if (!abort.signal.aborted) console.warn('events: the stream broke, reconnecting', error);
      })
      .finally(() => {
        this.setLive(false);
        if (this.abort !== abort) return;
        // Backs off to 10 s: a server that restarts is back in seconds, one that is down shouldn't be hammered.
        setTimeout(() => {
          if (this.abort === abort) this.start();
        }, this.retryMs);
        this.retryMs = Math.min(this.retryMs * 2, 10_000);
      });
  }

  private async run(abort: AbortController): Promise<void> {
    const response = await fetch('/api/v1/events', {
      headers: { ...authHeaders(), accept: 'text/event-stream', ...(this.lastId === null ? {} : { 'last-event-id': this.lastId }) },
      signal: abort.signal,
      cache: 'no-store',
    });
    if (!response.ok || response.body === null) throw new Error(`events: HTTP ${response.status}`);
    this.setLive(true);
    this.retryMs = 500;
    const parser = new SseParser((raw) => {
      if (raw.id !== null) this.lastId = raw.id;
      let event: ServerEvent;
      try {
        event = JSON.parse(raw.data) as ServerEvent;
      } catch {
        return; // not one of ours: a proxy's or a newer server's message
      }
      for (const listener of this.listeners) listener(event);
    });
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      parser.push(value);
    }
  }
}

export const events = new EventStream();
