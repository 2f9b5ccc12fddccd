export type * from './types.js';
export { parsePipeline } from './parse.js';
export { planPipeline } from './plan.js';
export { pipelineJsonSchema } from './schema.js';
export { formatDiagnostic } from './diagnostics.js';
export { parseDuration } from './units.js';
export { nextSteps, type JobStatus, type JobProgress, type NextSteps } from './progress.js';
export { commitTimestamp, predefinedVariables, type PredefinedContext } from './variables.js';
