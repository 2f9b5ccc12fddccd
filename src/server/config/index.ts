/** The server's configuration: one schema, loaded from a YAML file, SLIPWAY_* variables and flags. See docs/server.md. */
export { configSchema, type ConfigInput, type ServerConfig } from './schema.js';
export { envVariables, loadConfig, parseListen, readConfigFile, type ConfigFlags, type LoadConfigInput } from './load.js';
export { ensureSecretsKey } from './secrets-key.js';
export { describeIssues } from './issues.js';
