export { createLocalEngine } from './engine.js';
export { localEngineConfigSchema, DEFAULT_TEMPLATE, type LocalEngineConfig, type LocalEngineSettings } from './config.js';
