export type * from './types.js';
export { runJob } from './run-job.js';
export { directoryCacheStore } from './cache.js';
export { formatDuration } from './format.js';
