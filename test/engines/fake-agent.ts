/**
 * A stand-in for a Slipway agent, started by the engines under test. The conformance
 * suite checks the engine contract — start this command with this environment, report
 * when it ends, stop it, list it — not the agent, so this program only does what the
 * tests observe:
 *  - it ignores its `agent --server ...` arguments (it records them);
 *  - it writes { argv, env, pid } as JSON to the file named by FAKE_AGENT_RECORD;
 *  - it exits with FAKE_AGENT_EXIT_CODE (default 0) after FAKE_AGENT_EXIT_AFTER_MS, or
 *    as soon as the file named by FAKE_AGENT_EXIT_WHEN exists;
 *  - otherwise it stays alive until SIGTERM (with FAKE_AGENT_IGNORE_SIGTERM=1 it ignores
 *    SIGTERM too, so that a test can see the engine's SIGKILL after the grace period);
 *  - with FAKE_AGENT_JOB_GROUP=1 it starts `sleep` as the leader of a process group of
 *    its own, as an agent runs a job's step, records the group where a real agent does
 *    (process-groups.json in its working folder; src/process/registry.ts) and puts its
 *    pid in the record file as `jobPid`.
 * It is plain Node with no imports from Slipway, so a container engine can run it too.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, renameSync, writeFileSync } from 'node:fs';

/** How often to look for the exit file: a test waits on it, so short. */
const EXIT_FILE_POLL_MS = 20;

const exitCode = Number(process.env.FAKE_AGENT_EXIT_CODE ?? '0');
if (process.env.FAKE_AGENT_IGNORE_SIGTERM === '1') process.on('SIGTERM', () => undefined);

let jobPid: number | null = null;
if (process.env.FAKE_AGENT_JOB_GROUP === '1') {
  const job = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
  job.unref();
  jobPid = job.pid ?? null;
  if (jobPid !== null) {
    const stat = readFileSync(`/proc/${jobPid}/stat`, 'utf8');
    const startTime = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19] ?? null;
    writeFileSync('process-groups.json', JSON.stringify({ pid: process.pid, groups: [{ pgid: jobPid, startTime }] }));
  }
}

const record = process.env.FAKE_AGENT_RECORD;
if (record !== undefined) {
  // Written last, after the signal handler, so a test that reads it knows the agent is ready.
  const temp = `${record}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify({ argv: process.argv.slice(2), env: process.env, pid: process.pid, jobPid }));
  renameSync(temp, record);
}
console.log(`fake agent ${process.pid} started`);

const exitAfterMs = process.env.FAKE_AGENT_EXIT_AFTER_MS;
const exitWhen = process.env.FAKE_AGENT_EXIT_WHEN;
if (exitAfterMs !== undefined) {
  setTimeout(() => process.exit(exitCode), Number(exitAfterMs));
} else if (exitWhen !== undefined) {
  setInterval(() => {
    if (existsSync(exitWhen)) process.exit(exitCode);
  }, EXIT_FILE_POLL_MS);
} else {
  // Only a signal ends it.
  setInterval(() => undefined, 1 << 30);
}
