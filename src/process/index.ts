/**
 * Processes and process groups, for everything Slipway starts: a job's shell and its
 * children (executor), git (src/git), agent processes (local engine). Each is spawned
 * as the leader of its own group, so that stopping it stops everything it started.
 */
export { ProcessGroup, exitCodeOf, type Exit } from './group.js';
export { groupAlive, groupIsOurs, pidStartTime, processRunning, signalGroup, waitGroupGone } from './liveness.js';
export { GROUP_RECORD_FILE, endRecordedGroups, killLiveGroups, recordGroupsIn } from './registry.js';
