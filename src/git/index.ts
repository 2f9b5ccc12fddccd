/**
 * Git for the whole of Slipway: one way to run it (cancellable, credential-free
 * messages, GIT_FAILED), the cache of bare mirrors the executor and the server share,
 * and how a repository is named and printed.
 */
export { git, gitText, gitTextOrNull, type GitOptions } from './run.js';
export { gitStream } from './stream.js';
export { createMirrorCache, type MirrorCache, type MirrorCall } from './mirrors.js';
export { cloneSource, displayRepository, localRepositoryPath, repositoryName } from './repository.js';
