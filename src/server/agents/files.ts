import { SlipwayError } from '../../errors/index.js';
import type { JobAttempt, Store } from '../../store/index.js';
import { openBlobStore, type BlobStore } from '../blobs/index.js';
import type { ServerConfig } from '../config/index.js';
import { hashToken } from '../crypto/index.js';
import { openLogStore, type LogKey, type LogStore } from '../logs/index.js';

/**
 * What the agent endpoint and the file routes share: the job logs and the blobs (artifacts,
 * caches). One of each per directory in one process, so the server opens them once and
 * hands the same pair to the endpoint and to the HTTP routes.
 */
export type FileStores = { readonly logs: LogStore; readonly blobs: BlobStore };

export async function openFileStores(config: Pick<ServerConfig, 'logs' | 'blobs'>): Promise<FileStores & { close(): Promise<void> }> {
  const logs = await openLogStore({ dir: config.logs.dir });
  let blobs: BlobStore;
  try {
    blobs = await openBlobStore({ dir: config.blobs.dir });
  } catch (error) {
    await logs.close();
    throw error;
  }
  return { logs, blobs, close: () => logs.close() };
}

/** The log of one attempt. */
export function logKeyOf(attempt: Pick<JobAttempt, 'jobId' | 'number'>): LogKey {
  return { jobId: attempt.jobId, attempt: attempt.number };
}

const bearer = /^Bearer\s+(\S+)\s*$/i;

/**
 * The attempt an `Authorization: Bearer <attempt token>` header opens, if it is attemptId's
 * live token (not finished, not revoked). Throws UNAUTHORIZED otherwise: a stale token
 * (the attempt was re-assigned, canceled or finished) opens nothing.
 */
export async function authenticateAttempt(store: Store, header: string | undefined, attemptId: number): Promise<JobAttempt> {
  const presented = header === undefined ? null : (bearer.exec(header)?.[1] ?? null);
  const attempt = presented === null ? null : await store.attempts.getByTokenHash(hashToken(presented));
  if (attempt === null || attempt.id !== attemptId || attempt.finishedAt !== null) {
    throw new SlipwayError('UNAUTHORIZED', `send the token of attempt ${attemptId} in Authorization: Bearer <token>; this one is unknown, stale or of another attempt`);
  }
  return attempt;
}
