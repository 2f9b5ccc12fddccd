import type WebSocket from 'ws';

/**
 * Back-pressure on one agent socket: the bytes of frames received and not yet done with
 * (for events: stored durably and acknowledged). Above limitBytes the socket stops being
 * read, so TCP pushes back on the agent; at half of it, reading goes on. A well-behaved
 * agent never gets here (it keeps less than this unacknowledged); this bounds the memory
 * one that does not can take.
 *
 * Call received() once per frame as it arrives and done() once for it when its handling
 * settled, whatever the outcome.
 */
export class ReadGate {
  private readonly ws: WebSocket;
  private readonly limitBytes: number;
  /** Bytes of frames received and not done with. */
  pendingBytes = 0;

  constructor(ws: WebSocket, limitBytes: number) {
    this.ws = ws;
    this.limitBytes = limitBytes;
  }

  received(bytes: number): void {
    this.pendingBytes += bytes;
    if (this.pendingBytes > this.limitBytes && !this.ws.isPaused) this.ws.pause();
  }

  done(bytes: number): void {
    this.pendingBytes -= bytes;
    // Half the limit: resuming at once would pause again on the next frame, a read per frame.
    if (this.ws.isPaused && this.pendingBytes <= this.limitBytes / 2) this.ws.resume();
  }
}
