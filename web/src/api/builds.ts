import { ApiError, enc, get, q } from './client.js';
import type { Build, Page } from './types.js';

/** The newest builds of every project. */
export async function recentBuilds(limit: number, signal?: AbortSignal): Promise<Build[]> {
  return (await get<Page<Build>>(`/api/v1/builds${q({ limit })}`, signal)).items;
}

/** The id of build number N of a project (the UI's /projects/NAME/builds/N addresses). */
export async function buildIdByNumber(project: string, number: number, signal?: AbortSignal): Promise<number> {
  let cursor: string | null = null;
  do {
    const page: Page<Build> = await get<Page<Build>>(`/api/v1/projects/${enc(project)}/builds${q({ limit: 500, cursor })}`, signal);
    const found = page.items.find((b) => b.number === number);
    if (found !== undefined) return found.id;
    if (page.items.length > 0 && (page.items[page.items.length - 1]?.number ?? 0) < number) break;
    cursor = page.nextCursor;
  } while (cursor !== null);
  throw new ApiError(404, 'NOT_FOUND', `project ${project} has no build ${number}`);
}
