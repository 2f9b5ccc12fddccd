export { useJobLog } from './load.js';
export { LogViewer } from './viewer.js';
