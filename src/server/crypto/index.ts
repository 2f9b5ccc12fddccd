/**
 * The server's small cryptography: project secrets encrypted at rest, tokens that are
 * stored only as hashes, and webhook signatures checked in constant time.
 *
 * - Secrets: AES-256-GCM with a fresh 96-bit IV each time; the project and the secret's
 *   name are bound as associated data, so a ciphertext copied onto another secret (or
 *   another project) fails to decrypt instead of leaking under a different name.
 * - Tokens: 256 random bits, shown once; the database keeps their SHA-256. A token's
 *   prefix tells what it is (`slw_api_`, `slw_agent_`, `slw_job_`) so a leaked one is
 *   recognisable by secret scanners.
 */
import { createCipheriv, createDecipheriv, createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { SlipwayError } from '../../errors/index.js';

const KEY_BYTES = 32;
const IV_BYTES = 12;
const VERSION = 'v1';

/** Reads the secrets key from configuration: 32 bytes as base64 or hex. */
export function parseSecretsKey(text: string): Buffer {
  const trimmed = text.trim();
  const key = /^[0-9a-fA-F]{64}$/.test(trimmed) ? Buffer.from(trimmed, 'hex') : Buffer.from(trimmed, 'base64');
  if (key.length !== KEY_BYTES) {
    throw new SlipwayError(
      'CONFIG_INVALID',
      `the secrets key must be ${KEY_BYTES} bytes written as base64 or 64 hex digits (got ${key.length} bytes); make one with: openssl rand -base64 32`,
    );
  }
  return key;
}

export function newSecretsKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/** Where a secret belongs; bound into its ciphertext. */
export type SecretPlace = { projectId: number; name: string };

export function encryptSecret(key: Buffer, place: SecretPlace, plaintext: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(associatedData(place));
  const body = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return [VERSION, iv.toString('base64'), cipher.getAuthTag().toString('base64'), body.toString('base64')].join(':');
}

export function decryptSecret(key: Buffer, place: SecretPlace, sealed: string): string {
  const [version, iv, tag, body] = sealed.split(':');
  if (version !== VERSION || iv === undefined || tag === undefined || body === undefined) {
    throw new SlipwayError('INTERNAL', `secret ${place.name} of project ${place.projectId} is not in a format this server reads (${version ?? 'empty'})`);
  }
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, Buffer.from(iv, 'base64'));
    decipher.setAAD(associatedData(place));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    return Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8');
  } catch (error) {
    throw new SlipwayError(
      'CONFIG_INVALID',
      `secret ${place.name} of project ${place.projectId} cannot be decrypted: the server's secrets key is not the one it was saved with; restore that key or set the secret again`,
      { cause: error },
    );
  }
}

function associatedData(place: SecretPlace): Buffer {
  return Buffer.from(`slipway-secret\u0000${place.projectId}\u0000${place.name}`, 'utf8');
}

export type TokenKind = 'api' | 'agent' | 'job';

/** A new random token; show it once, store hashToken(token). */
export function newToken(kind: TokenKind): string {
  return `slw_${kind}_${randomBytes(32).toString('base64url')}`;
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

/** Compares two strings in time independent of where they differ. */
export function constantTimeEqual(a: string, b: string): boolean {
  // Hashing first gives equal lengths, so the length of a secret leaks nothing either.
  const ha = createHash('sha256').update(a, 'utf8').digest();
  const hb = createHash('sha256').update(b, 'utf8').digest();
  return timingSafeEqual(ha, hb);
}

/** GitHub's `X-Hub-Signature-256: sha256=<hex HMAC of the raw body>`. */
export function verifyHmacSha256Signature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (header === undefined || !header.startsWith('sha256=')) return false;
  const expected = `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
  return constantTimeEqual(expected, header.trim());
}
