import { randomBytes } from 'node:crypto';
import { access, constants as fsConstants, writeFile } from 'node:fs/promises';
import type { Masker } from './masking.js';
import { ProcessStream, type JobOutput } from './output.js';
import { ProcessGroup, exitCodeOf } from '../process/index.js';
import type { OutputStream, SectionName } from './types.js';

/**
 * Running a job's commands: one generated script per shell process, echoing each
 * command in green like GitLab does, then running it as written, and stopping at the
 * first command that fails with that command's exit status.
 */

export type Shell = { path: string; prelude: string };

/** bash with pipefail when the image has it, else POSIX sh (dash, busybox). */
export async function chooseShell(): Promise<Shell> {
  try {
    await access('/bin/bash', fsConstants.X_OK);
    return { path: '/bin/bash', prelude: 'set -eo pipefail' };
  } catch {
    return { path: '/bin/sh', prelude: 'set -e' };
  }
}

export type ScriptStep = { kind: 'command'; command: string } | { kind: 'markers'; stdout: string; stderr: string };

function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * The script text. `set -e` alone does not stop at `false && true` or at a failing
 * command inside a function called from a condition, so the status of every command
 * is also checked explicitly after it.
 */
export function buildScript(shell: Shell, steps: readonly ScriptStep[]): string {
  const lines = [shell.prelude, ''];
  for (const step of steps) {
    if (step.kind === 'markers') {
      // Written by the shell itself between two commands; a closed stdout or stderr
      // (`exec >&-` in a command) must not fail the job, hence `|| true`.
      lines.push(`printf '%s' ${shellQuote(step.stdout)} 2>/dev/null || true`);
      lines.push(`printf '%s' ${shellQuote(step.stderr)} >&2 2>/dev/null || true`);
      continue;
    }
    const text = step.command.replace(/\s+$/, '');
    if (text.trim() === '') continue;
    for (const line of text.split('\n')) {
      lines.push(`printf '\\033[32;1m$ %s\\033[0;m\\n' ${shellQuote(line)}`);
    }
    lines.push(text);
    lines.push('__slipway_status=$?');
    lines.push('if [ "$__slipway_status" -ne 0 ]; then exit "$__slipway_status"; fi');
  }
  lines.push('exit 0', '');
  return lines.join('\n');
}

export type ShellOutcome =
  | { kind: 'exited'; exitCode: number; signal: NodeJS.Signals | null }
  | { kind: 'timeout' }
  | { kind: 'canceled' };

export type ShellRun = {
  shell: Shell;
  /** The commands; with beforeScript, both run in the same shell, in two log sections. */
  beforeScript: readonly string[];
  script: readonly string[];
  /** The sections the two lists are logged in. */
  sections: { before: SectionName | null; main: SectionName };
  scriptPath: string;
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutMs: number;
  killGraceMs: number;
  /** Aborting ends the shell and its group; the outcome is `canceled`. */
  signal: AbortSignal | null;
  output: JobOutput;
  masker: Masker;
};

export type ShellResult = {
  outcome: ShellOutcome;
  /** Whether the main list started (false when the before list failed or was stopped). */
  reachedMain: boolean;
};

/**
 * Runs the commands in one shell that leads its own process group, streams its output,
 * and returns once the whole group is dead and its output drained. Rejects only when
 * the shell cannot be started.
 */
export async function runShell(run: ShellRun): Promise<ShellResult> {
  const { output } = run;
  const hasBefore = run.sections.before !== null && run.beforeScript.length > 0;
  const nonce = randomBytes(12).toString('hex');
  const markers = { stdout: `slipway-section-${nonce}-1`, stderr: `slipway-section-${nonce}-2` };
  const steps: ScriptStep[] = [
    ...run.beforeScript.map((command) => ({ kind: 'command' as const, command })),
    ...(hasBefore ? [{ kind: 'markers' as const, ...markers }] : []),
    ...run.script.map((command) => ({ kind: 'command' as const, command })),
  ];
  await writeFile(run.scriptPath, buildScript(run.shell, steps), { mode: 0o600 });

  const group = await ProcessGroup.start(run.shell.path, [run.scriptPath], { cwd: run.cwd, env: run.env });
  // Opened once the shell runs: a shell that cannot start leaves no dangling section.
  const sections = new SectionSwitch(output, hasBefore ? run.sections.before : null, run.sections.main);

  const streams = (['stdout', 'stderr'] as const).map((name) => {
    const stream = new ProcessStream({
      masker: run.masker,
      markers: hasBefore ? [markers.stdout, markers.stderr] : [],
      onText: (text) => sections.text(name, text),
      onMarker: (marker) => sections.marker(name, marker),
    });
    group.child[name].on('data', (chunk: Buffer) => stream.write(chunk));
    return stream;
  });

  let stopped: 'timeout' | 'canceled' | null = null;
  const stop = (why: 'timeout' | 'canceled'): void => {
    if (stopped !== null || group.hasExited()) return;
    stopped = why;
    group.terminate(run.killGraceMs);
  };
  const timer = setTimeout(() => stop('timeout'), run.timeoutMs);
  const onAbort = (): void => stop('canceled');
  if (run.signal?.aborted === true) onAbort();
  else run.signal?.addEventListener('abort', onAbort, { once: true });

  try {
    const exit = await group.exited;
    clearTimeout(timer);
    run.signal?.removeEventListener('abort', onAbort);
    // The shell is gone; a background child (`sleep 1000 &`) may still hold the
    // pipes open. End the rest of the group first, then drain, so it cannot hang us.
    const reaped = await group.reap(run.killGraceMs);
    const drained = await group.drain();
    for (const stream of streams) stream.end();
    sections.finish();
    if (!reaped) output.warning('some processes of the job did not end even after SIGKILL');
    if (!drained) {
      output.warning('a process that left the job\'s process group kept its output open; the rest of its output was dropped');
    }
    const outcome: ShellOutcome = stopped === null
      ? { kind: 'exited', exitCode: exitCodeOf(exit), signal: exit.signal }
      : { kind: stopped };
    return { outcome, reachedMain: sections.reachedMain };
  } finally {
    clearTimeout(timer);
    run.signal?.removeEventListener('abort', onAbort);
    group.dispose();
  }
}

/** How long to wait for the second section marker once the first has arrived. */
const LONELY_MARKER_MS = 200;

/**
 * Tells the two sections of one shell apart. The shell prints a random marker on
 * stdout and another on stderr between the two lists; the switch happens once both
 * are seen, and text that arrives on a pipe after its marker but before the switch
 * waits, so neither section gets the other's lines.
 */
class SectionSwitch {
  private readonly output: JobOutput;
  private readonly before: SectionName | null;
  private readonly main: SectionName;
  private readonly seen = new Set<string>();
  private readonly pastMarker = { stdout: false, stderr: false };
  private queued: Array<{ stream: OutputStream; text: string }> = [];
  private startedAtMs: number;
  private switched: boolean;
  private lonelyMarkerTimer: NodeJS.Timeout | null = null;
  /** Whether the main list started: both markers (or, at the end, one) were seen. */
  reachedMain: boolean;

  constructor(output: JobOutput, before: SectionName | null, main: SectionName) {
    this.output = output;
    this.before = before;
    this.main = main;
    this.switched = before === null;
    this.reachedMain = before === null;
    this.startedAtMs = output.sectionStart(before ?? main);
  }

  text(stream: 'stdout' | 'stderr', text: string): void {
    if (!this.switched && this.pastMarker[stream]) this.queued.push({ stream, text });
    else this.output.data(stream, text);
  }

  marker(stream: 'stdout' | 'stderr', marker: string): void {
    this.pastMarker[stream] = true;
    this.seen.add(marker);
    if (this.seen.size === 2) this.switch();
    // The other marker follows within microseconds unless a command closed or
    // redirected that stream (`exec 2>/dev/null`): then do not hold the script's
    // output back until the end.
    else this.lonelyMarkerTimer ??= setTimeout(() => this.switch(), LONELY_MARKER_MS);
  }

  /**
   * After the streams ended: closes the open section. The main section is always
   * logged, empty when the before list failed. One marker only means a command
   * closed or redirected the other stream: the main list did start.
   */
  finish(): void {
    this.switch();
    this.output.sectionEnd(this.main, this.startedAtMs);
  }

  private switch(): void {
    if (this.lonelyMarkerTimer !== null) clearTimeout(this.lonelyMarkerTimer);
    this.lonelyMarkerTimer = null;
    if (this.switched) return;
    this.switched = true;
    this.reachedMain = this.seen.size > 0;
    if (this.before !== null) this.output.sectionEnd(this.before, this.startedAtMs);
    this.startedAtMs = this.output.sectionStart(this.main);
    for (const { stream, text } of this.queued) this.output.data(stream, text);
    this.queued = [];
  }
}
