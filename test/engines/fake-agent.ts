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
 *    SIGTERM too, so that a test can see the engine's SIGKILL after the grace period).
 * It is plain Node with no imports from Slipway, so a container engine can run it too.
 */
import { existsSync, renameSync, writeFileSync } from 'node:fs';

/** How often to look for the exit file: a test waits on it, so short. */
const EXIT_FILE_POLL_MS = 20;

const exitCode = Number(process.env.FAKE_AGENT_EXIT_CODE ?? '0');
if (process.env.FAKE_AGENT_IGNORE_SIGTERM === '1') process.on('SIGTERM', () => undefined);

const record = process.env.FAKE_AGENT_RECORD;
if (record !== undefined) {
  // Written last, after the signal handler, so a test that reads it knows the agent is ready.
  const temp = `${record}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify({ argv: process.argv.slice(2), env: process.env, pid: process.pid }));
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
