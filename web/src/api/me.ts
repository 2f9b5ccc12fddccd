import { api } from './client.js';
import type { Token } from './types.js';

/** Who the token is: the sign-in check (the UI is served by the server it asks, so the route is there). */
export function whoAmI(token: string): Promise<Token> {
  return api<Token>('GET', '/api/v1/me', undefined, { token });
}
