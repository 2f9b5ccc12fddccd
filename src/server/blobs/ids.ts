import { randomBytes } from 'node:crypto';
import { SlipwayError } from '../../errors/index.js';

/**
 * Blob ids: 128 random bits as 32 lowercase hex characters, made by the store. They are
 * the only thing that becomes a file name; nothing a build names ever does.
 */
const BLOB_ID = /^[0-9a-f]{32}$/;

export function newBlobId(): string {
  return randomBytes(16).toString('hex');
}

export function isBlobId(value: string): boolean {
  return BLOB_ID.test(value);
}

/** Throws USAGE unless id is a blob id; called before any use of id on the filesystem. */
export function checkBlobId(id: string): void {
  if (typeof id !== 'string' || !isBlobId(id)) {
    const shown = typeof id === 'string' ? JSON.stringify(id.slice(0, 80)) : typeof id;
    throw new SlipwayError('USAGE', `${shown} is not a blob id (32 lowercase hex characters)`);
  }
}
