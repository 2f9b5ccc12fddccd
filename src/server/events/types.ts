/**
 * The server's event stream: every state change of a build, job or agent is appended to
 * store.events (in the same transaction as the change, as its last write) and then told
 * to live subscribers. GET /api/v1/events serves it as server-sent events, resumable with
 * Last-Event-ID (the event's store id).
 */
export type EventType =
  | 'build.created'
  | 'build.updated'
  | 'job.updated'
  | 'job.log' // a job's log grew: { jobId, attempt, size } — the UI then reads the log by offset
  | 'agent.updated'; // { agentId, name, change }: see AgentChange in ../agents

export type ServerEvent = {
  id: number;
  type: EventType;
  projectId: number | null;
  payload: Record<string, unknown>;
  createdAt: number;
};

export type EventBus = {
  /**
   * Tells live subscribers about events already committed to the store (call after the
   * transaction that appended them commits). Never throws; a slow subscriber is dropped.
   */
  notify(events: readonly ServerEvent[]): void;
  /**
   * Live events after `afterId`: first those in the store, then new ones as notify()
   * brings them, without gaps or repeats. Ends when the signal aborts.
   */
  subscribe(afterId: number, signal: AbortSignal): AsyncIterable<ServerEvent>;
};
