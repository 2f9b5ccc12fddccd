export { createDockerEngine } from './engine.js';
export { dockerEngineConfigSchema, type DockerEngineConfig, type DockerEngineSettings, type DockerTemplate } from './config.js';
