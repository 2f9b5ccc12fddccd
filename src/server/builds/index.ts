export type * from './types.js';
export { createBuildController, failureAllowed, type BuildControllerOptions } from './controller.js';
export { isPlan, skippedReason } from './prepare.js';
