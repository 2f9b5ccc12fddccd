import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { SlipwayError, messageOf } from '../errors/index.js';
import { displayRepository } from './repository.js';
import { gitEnvironment, type GitOptions } from './run.js';

/** What git says of an object: its full name, type and size. */
export type ObjectInfo = { sha: string; type: string; size: number };

/**
 * One long-lived `git cat-file --batch-command` on a repository: object and ref lookups
 * without starting a process each (a trigger asks several questions; each process costs
 * a few milliseconds). Objects never change; refs are read afresh on every command
 * (git re-reads loose refs and a changed packed-refs file), so answers are current.
 *
 * Questions are answered in the order asked; any number may be in flight. The process
 * ends after idleMs without a question, when it fails (the questions waiting get
 * GIT_FAILED; the next one starts a new process) or on close(). It never keeps the
 * Node process alive.
 */
export class CatFileBatch {
  private readonly args: readonly string[];
  private readonly options: GitOptions;
  private readonly idleMs: number;
  private child: ChildProcessWithoutNullStreams | null = null;
  private readonly waiting: Array<Pending> = [];
  private received: Buffer = Buffer.alloc(0);
  private idleTimer: NodeJS.Timeout | null = null;
  /** git refused the command (a git older than 2.36 has no --batch-command): callers ask otherwise. */
  unsupported = false;

  /** args: put before `cat-file` (e.g. `--git-dir=…`); options: as for git(). */
  constructor(args: readonly string[], options: GitOptions, idleMs: number) {
    this.args = args;
    this.options = options;
    this.idleMs = idleMs;
  }

  /** The object a name (`refs/heads/main^{commit}`, `<sha>:<path>`, a short sha) stands for; null when it names nothing (or several). */
  info(name: string): Promise<ObjectInfo | null> {
    return this.ask('info', name).then((answer) => answer?.info ?? null);
  }

  /** The object's info and content; null when the name stands for nothing. */
  contents(name: string): Promise<{ info: ObjectInfo; content: Buffer } | null> {
    return this.ask('contents', name).then((answer) => (answer === null ? null : { info: answer.info, content: answer.content ?? Buffer.alloc(0) }));
  }

  /** Ends the process; questions in flight get GIT_FAILED. Idempotent. */
  close(): void {
    this.stop(new SlipwayError('GIT_FAILED', 'the git object reader was closed'));
  }

  private ask(command: 'info' | 'contents', name: string): Promise<Answer | null> {
    // The protocol is line-based: a name with a line break cannot be asked, and names nothing git would store.
    if (/[\r\n]/.test(name) || name === '') return Promise.resolve(null);
    if (this.unsupported) return Promise.reject(new SlipwayError('GIT_FAILED', 'this git has no cat-file --batch-command (git 2.36 or later)'));
    return new Promise((resolve, reject) => {
      let child: ChildProcessWithoutNullStreams;
      try {
        child = this.child ?? this.start();
      } catch (error) {
        reject(error);
        return;
      }
      this.waiting.push({ command, resolve, reject });
      if (this.waiting.length === 1) this.hold(child, true);
      this.touch();
      child.stdin.write(`${command} ${name}\nflush\n`);
    });
  }

  private start(): ChildProcessWithoutNullStreams {
    const fullArgs = [...(this.options.isolated === true ? ['-c', 'safe.directory=*'] : []), ...this.args, 'cat-file', '--batch-command', '--buffer'];
    const child = spawn('git', fullArgs, { cwd: this.options.cwd, env: gitEnvironment(this.options), stdio: ['pipe', 'pipe', 'pipe'] });
    this.child = child;
    this.received = Buffer.alloc(0);
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => {
      this.received = this.received.length === 0 ? chunk : Buffer.concat([this.received, chunk]);
      this.parse();
    });
    child.stderr.on('data', (chunk: Buffer) => {
      stderr = (stderr + chunk.toString('utf8')).slice(-4096);
    });
    const where = this.options.repository === undefined ? this.options.cwd : displayRepository(this.options.repository);
    child.on('error', (error) => {
      this.stop(new SlipwayError('GIT_FAILED', `could not run git cat-file for ${where} (the git command line is required): ${messageOf(error)}`, { cause: error }), child);
    });
    child.on('exit', (code, signal) => {
      // 129: git's answer to an option it does not know.
      if (code === 129) this.unsupported = true;
      const detail = stderr.trim().split('\n').slice(-3).join('\n') || (signal === null ? `exit status ${code ?? '?'}` : `killed by ${signal}`);
      this.stop(new SlipwayError('GIT_FAILED', `git cat-file for ${where} ended: ${detail}`), child);
    });
    // A write after git died fails here; the exit above has already answered the questions.
    child.stdin.on('error', () => undefined);
    this.hold(child, false);
    return child;
  }

  /** Keeps the Node process alive while questions wait for answers; idle, the reader must not keep a server (or a test) running. */
  private hold(child: ChildProcessWithoutNullStreams, waiting: boolean): void {
    for (const handle of [child, child.stdin, child.stdout, child.stderr] as unknown as Array<{ ref?: () => void; unref?: () => void }>) {
      if (waiting) handle.ref?.();
      else handle.unref?.();
    }
  }

  /** Answers the questions whose replies have fully arrived, in order. */
  private parse(): void {
    for (;;) {
      const next = this.waiting[0];
      if (next === undefined) {
        if (this.child !== null) this.hold(this.child, false);
        return;
      }
      const lineEnd = this.received.indexOf(0x0a);
      if (lineEnd < 0) return;
      const header = this.received.toString('utf8', 0, lineEnd);
      const found = /^([0-9a-f]{40,64}) (\S+) (\d+)$/.exec(header);
      if (found === null) {
        // `<name> missing` or `<name> ambiguous`: nothing to read after the line.
        this.received = this.received.subarray(lineEnd + 1);
        this.waiting.shift();
        next.resolve(null);
        continue;
      }
      const info = { sha: found[1] ?? '', type: found[2] ?? '', size: Number(found[3]) };
      if (next.command === 'info') {
        this.received = this.received.subarray(lineEnd + 1);
        this.waiting.shift();
        next.resolve({ info, content: null });
        continue;
      }
      // The content follows the line, then a newline of its own.
      const end = lineEnd + 1 + info.size + 1;
      if (this.received.length < end) return;
      const content = Buffer.from(this.received.subarray(lineEnd + 1, end - 1));
      this.received = this.received.subarray(end);
      this.waiting.shift();
      next.resolve({ info, content });
    }
  }

  private touch(): void {
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      if (this.waiting.length === 0) this.stop(null);
      else this.touch();
    }, this.idleMs);
    this.idleTimer.unref();
  }

  /** Ends the process (only `child`'s, when given: a newer one is left alone) and fails what waits on it. */
  private stop(error: SlipwayError | null, child: ChildProcessWithoutNullStreams | null = this.child): void {
    if (child === null || child !== this.child) return;
    this.child = null;
    if (this.idleTimer !== null) clearTimeout(this.idleTimer);
    this.idleTimer = null;
    child.stdin.end();
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const waiting = this.waiting.splice(0);
    for (const pending of waiting) pending.reject(error ?? new SlipwayError('GIT_FAILED', 'the git object reader stopped'));
  }
}

type Answer = { info: ObjectInfo; content: Buffer | null };
type Pending = { command: 'info' | 'contents'; resolve: (answer: Answer | null) => void; reject: (error: unknown) => void };
