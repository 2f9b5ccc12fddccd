import { createRequire } from 'node:module';

/**
 * The agent's version for `hello`: package.json's, found beside the compiled tree
 * (dist/src/agent/ → the package root). A bundle that ships without package.json
 * reports 'unknown' rather than failing to start: the server only shows it.
 */
export function agentVersion(): string {
  try {
    const pkg = createRequire(import.meta.url)('../../../package.json') as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND') return 'unknown';
    throw error;
  }
}
