export type * from './types.js';
export { createLocalEngine, localEngineConfigSchema, DEFAULT_TEMPLATE, type LocalEngineConfig, type LocalEngineSettings } from './local/index.js';
export { createDockerEngine, dockerEngineConfigSchema, type DockerEngineConfig, type DockerEngineSettings, type DockerTemplate } from './docker/index.js';
