export type * from './types.js';
export { createLocalEngine, localEngineConfigSchema, DEFAULT_TEMPLATE, type LocalEngineConfig, type LocalEngineSettings } from './local/index.js';
