import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { makeRepo } from './git-repo.js';

/** A call to a test server's JSON API: the parsed answer (undefined for an empty one). */
export type Api = <T>(method: string, route: string, body?: unknown) => Promise<T>;

/** Calls the API at url with a bearer token; a failed call throws naming the call and what the server said. */
export function apiClient(url: string, token: string): Api {
  return async <T>(method: string, route: string, body?: unknown): Promise<T> => {
    const response = await fetch(`${url}${route}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
    return (text === '' ? undefined : JSON.parse(text)) as T;
  };
}

/**
 * Makes projects over fresh git repositories of the given files under dir. Names and
 * paths carry random hex too: several servers (a restart) may share one dir and database.
 */
export function projectMaker(api: Api, dir: string, prefix: string): (files: Record<string, string>) => Promise<{ name: string; repo: string }> {
  let made = 0;
  return async (files) => {
    made += 1;
    const repo = path.join(dir, `repo-${made}-${randomBytes(3).toString('hex')}`);
    await makeRepo(repo, files);
    const name = `${prefix}${made}-${randomBytes(3).toString('hex')}`;
    await api('POST', '/api/v1/projects', { name, repositoryUrl: repo });
    return { name, repo };
  };
}
