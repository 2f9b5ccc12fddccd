import { basename, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Naming a repository: where git reads it from, a name for files, and the form that may
 * be printed. A repository is a URL (https://, ssh://, scp-like user@host:path) or a
 * path on this machine; a URL may carry a user and password, which must never reach a
 * log, a message or a file name.
 */

/** Whether repository is a path on this machine rather than a URL (https://, ssh://, user@host:path). */
function isLocalPath(repository: string): boolean {
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(repository)) return false;
  const colon = repository.indexOf(':');
  const slash = repository.indexOf('/');
  return colon === -1 || (slash !== -1 && slash < colon);
}

/** Where git reads repository from: a local path made absolute, a URL as it is. */
export function cloneSource(repository: string): string {
  return isLocalPath(repository) ? resolve(repository) : repository;
}

/**
 * The directory of a repository on this machine (a path, or a file:// URL naming this
 * host), absolute; null for a repository reached over the network.
 */
export function localRepositoryPath(repository: string): string | null {
  if (isLocalPath(repository)) return resolve(repository);
  if (!/^file:\/\//i.test(repository)) return null;
  try {
    return fileURLToPath(repository);
  } catch {
    return null; // file://otherhost/...: not this machine's, git reads it as a URL
  }
}

/** The last segment of a repository's path or URL without `.git`, usable in a file name ('' when there is none). */
export function repositoryName(repository: string): string {
  return basename(repository.replace(/[/\\]+$/, '')).replace(/\.git$/, '').replace(/[^A-Za-z0-9._-]/g, '-');
}

/** The repository as it may be printed: without the user and password of a URL. */
export function displayRepository(repository: string): string {
  try {
    const url = new URL(repository);
    if (url.username === '' && url.password === '') return repository;
    url.username = '';
    url.password = '';
    return url.toString();
  } catch {
    return repository; // not a URL: a path or scp-like user@host:path, which carries no password
  }
}

/** Text from git (its stderr) with the user and password of every URL in it removed. */
export function withoutCredentials(text: string, repository?: string): string {
  const named = repository === undefined ? text : text.split(repository).join(displayRepository(repository));
  return named.replace(/([A-Za-z][A-Za-z0-9+.-]*:\/\/)[^/@\s]+@/g, '$1');
}
