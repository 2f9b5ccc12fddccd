import { ApiError, api } from './client.js';
import type { Me, Page, Project } from './types.js';

/**
 * Who the token is. GET /api/v1/me where the server has it; an older server answers
 * 404, then reading the projects proves the token at least reads.
 */
export async function whoAmI(token?: string): Promise<Me> {
  const options = token === undefined ? {} : { token };
  try {
    return await api<Me>('GET', '/api/v1/me', undefined, options);
  } catch (error) {
    if (!(error instanceof ApiError) || error.status !== 404) throw error;
    await api<Page<Project>>('GET', '/api/v1/projects?limit=1', undefined, options);
    return { name: 'token', scopes: ['read'] };
  }
}
