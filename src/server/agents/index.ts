/**
 * The agent side of the server (docs/protocol.md): the WebSocket endpoint agents connect
 * to, the dispatcher that hands them jobs, the storage of what they send, failure
 * detection, and what the file routes (artifacts, caches, logs) need to share with it.
 */
export { startAgentServer, CONNECT_PATH, type AgentServer, type AgentServerOptions } from './server.js';
export type { AgentEvent, EngineHooks } from './dispatch.js';
export { authenticateAttempt, logKeyOf, openFileStores, type FileStores } from './files.js';
export { registryVariables } from './assignment.js';
