/** The server's mirrors of project repositories: resolve refs, read pipeline files, compare commits. */
export { createGitMirrors, type CommitInfo, type GitMirrors, type ResolvedRef } from './mirrors.js';
export { displayRepository } from '../../git/index.js';
