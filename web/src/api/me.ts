import { api } from './client.js';
import type { Me } from './types.js';

/** Who the token is: the sign-in check (the UI is served by the server it asks, so the route is there). */
export function whoAmI(token: string): Promise<Me> {
  return api<Me>('GET', '/api/v1/me', undefined, { token });
}
