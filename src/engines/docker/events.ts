import type Docker from 'dockerode';
import type { Socket } from 'node:net';

/**
 * Follows the daemon's `die` events of the engine's containers. The stream is a
 * shortcut, not the source of truth: when it breaks it is reopened with a growing delay,
 * and the engine's periodic list() catches whatever happened meanwhile.
 */

/** Reconnect delays: from 0.5 s, doubling, up to 30 s while the daemon stays away. */
const FIRST_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;

export function dieEvents(docker: Docker, options: { labels: string[]; onDie: (containerName: string) => void; onError: (error: unknown) => void }) {
  let controller: AbortController | null = null;
  let retryTimer: NodeJS.Timeout | null = null;
  let retryMs = FIRST_RETRY_MS;
  let wanted = false;

  async function connect(): Promise<void> {
    const abort = new AbortController();
    controller = abort;
    const stream = (await docker.getEvents({
      filters: { type: ['container'], event: ['die'], label: options.labels },
      abortSignal: abort.signal,
    })) as NodeJS.ReadableStream & { socket?: Socket };
    // Following events must not keep the server process alive on its own.
    stream.socket?.unref();
    retryMs = FIRST_RETRY_MS;
    let buffered = '';
    stream.on('data', (chunk: Buffer) => {
      buffered += chunk.toString('utf8');
      const lines = buffered.split('\n');
      buffered = lines.pop() ?? '';
      for (const line of lines) {
        if (line.trim() === '') continue;
        let event: { Actor?: { Attributes?: Record<string, string> } };
        try {
          event = JSON.parse(line) as typeof event;
        } catch (error) {
          options.onError(error); // a daemon speaking another dialect; list() still sees the exits
          continue;
        }
        const name = event.Actor?.Attributes?.name;
        if (name !== undefined) options.onDie(name);
      }
    });
    const ended = (): void => {
      if (controller === abort) reconnectLater();
    };
    stream.on('end', ended);
    stream.on('error', ended);
  }

  function reconnectLater(): void {
    controller = null;
    if (!wanted || retryTimer !== null) return;
    retryTimer = setTimeout(() => {
      retryTimer = null;
      if (wanted) open();
    }, retryMs);
    retryTimer.unref();
    retryMs = Math.min(retryMs * 2, MAX_RETRY_MS);
  }

  function open(): void {
    connect().catch((error: unknown) => {
      if (retryMs === FIRST_RETRY_MS) options.onError(error); // once per outage, not per retry
      reconnectLater();
    });
  }

  return {
    /** Follows events while wanted; idempotent. */
    want(next: boolean): void {
      if (next === wanted) return;
      wanted = next;
      if (wanted) {
        open();
      } else {
        const current = controller;
        controller = null;
        current?.abort();
        if (retryTimer !== null) clearTimeout(retryTimer);
        retryTimer = null;
      }
    },
  };
}
