import { createHmac } from 'node:crypto';
import { constantTimeEqual, verifyHmacSha256Signature } from '../crypto/index.js';

/** The project secret that holds a project's webhook secret (GitHub/Gitea HMAC key, GitLab token). */
export const WEBHOOK_SECRET_NAME = 'WEBHOOK_SECRET';

export const webhookProviders = ['github', 'gitea', 'gitlab'] as const;
export type WebhookProvider = (typeof webhookProviders)[number];

type Headers = Readonly<Record<string, string | string[] | undefined>>;

function header(headers: Headers, name: string): string | undefined {
  const value = headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Whether the request carries the project's secret: an HMAC of the raw body (GitHub, Gitea) or the token itself (GitLab), compared in constant time. */
export function verifyWebhook(provider: WebhookProvider, secret: string, body: Buffer, headers: Headers): boolean {
  switch (provider) {
    case 'github':
      return verifyHmacSha256Signature(secret, body, header(headers, 'x-hub-signature-256'));
    case 'gitea': {
      const given = header(headers, 'x-gitea-signature');
      if (given === undefined) return false;
      return constantTimeEqual(createHmac('sha256', secret).update(body).digest('hex'), given.trim().toLowerCase());
    }
    case 'gitlab': {
      const given = header(headers, 'x-gitlab-token');
      return given !== undefined && constantTimeEqual(secret, given);
    }
  }
}

export function deliveryIdOf(provider: WebhookProvider, headers: Headers): string | undefined {
  const name = { github: 'x-github-delivery', gitea: 'x-gitea-delivery', gitlab: 'x-gitlab-event-uuid' }[provider];
  return header(headers, name);
}

/** What a delivery asks for: a build of a pushed commit, an answer to a ping, or nothing. */
export type WebhookIntent =
  | { kind: 'push'; ref: string; after: string; before: string | null }
  | { kind: 'ping' }
  | { kind: 'ignore'; note: string };

const ZERO = /^0+$/;

export function intentOf(provider: WebhookProvider, headers: Headers, payload: unknown): WebhookIntent {
  const event = header(headers, provider === 'github' ? 'x-github-event' : provider === 'gitea' ? 'x-gitea-event' : 'x-gitlab-event') ?? '';
  if (event === 'ping') return { kind: 'ping' };
  const isPush = provider === 'gitlab' ? event === 'Push Hook' || event === 'Tag Push Hook' : event === 'push';
  if (!isPush) return { kind: 'ignore', note: `${event || 'an event without a type'} is not a push; nothing to build` };
  const body = (typeof payload === 'object' && payload !== null ? payload : {}) as Record<string, unknown>;
  const ref = body.ref;
  const after = typeof body.checkout_sha === 'string' ? body.checkout_sha : body.after;
  if (typeof ref !== 'string' || typeof after !== 'string') return { kind: 'ignore', note: 'the push payload has no ref or after commit' };
  if (ZERO.test(after)) return { kind: 'ignore', note: `${ref} was deleted; nothing to build` };
  const before = typeof body.before === 'string' && !ZERO.test(body.before) ? body.before : null;
  return { kind: 'push', ref, after, before };
}
