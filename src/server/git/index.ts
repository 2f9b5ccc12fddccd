/** The server's mirrors of project repositories: resolve refs, read pipeline files, compare commits. */
export { createGitMirrors, displayRepository, type CommitInfo, type GitMirrors, type ResolvedRef } from './mirrors.js';
