import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { OutputChunk, SectionName } from '../../src/executor/index.js';
import { formatDuration } from '../../src/executor/format.js';
import { Masker } from '../../src/executor/masking.js';
import { JobOutput } from '../../src/executor/output.js';
import { buildScript, runShell, type Shell } from '../../src/executor/shell.js';
import { expandText, expandVariables } from '../../src/executor/variables.js';
import { tempDir } from '../support/git-repo.js';
import { logText, makeJob, makeSandbox } from './helpers.js';

type Sandbox = Awaited<ReturnType<typeof makeSandbox>>;

/** The text each section holds, by section name. */
function sectionTexts(chunks: readonly OutputChunk[]): Map<SectionName, string> {
  const texts = new Map<SectionName, string>();
  let current: SectionName | null = null;
  for (const chunk of chunks) {
    if (chunk.kind === 'section_start') {
      current = chunk.section;
      texts.set(current, '');
    } else if (chunk.kind === 'section_end') {
      current = null;
    } else if (current !== null && chunk.stream !== 'system') {
      texts.set(current, (texts.get(current) ?? '') + logText([chunk]));
    }
  }
  return texts;
}

describe('scripts', () => {
  let sandbox: Sandbox;
  before(async () => {
    sandbox = await makeSandbox({ 'README.md': 'hello\n', 'sub/file.txt': 'in sub\n' });
  });
  after(async () => {
    await sandbox.remove();
  });

  it('echoes each command in green and stops at the first failing one with its exit code', async () => {
    const { result, log, chunks } = await sandbox.run(makeJob({ script: ['echo one', 'exit 7', 'echo never'] }));
    assert.equal(result.status, 'failed');
    assert.equal(result.exitCode, 7);
    assert.deepEqual(result.failure, { kind: 'script_failure', exitCode: 7, message: 'script failed with exit code 7' });
    assert.match(log, /^\$ echo one\none\n\$ exit 7\n/m);
    assert.doesNotMatch(log, /never/);
    const raw = chunks.map((chunk) => (chunk.kind === 'data' ? chunk.data : '')).join('');
    assert.ok(raw.includes('\u001b[32;1m$ echo one\u001b[0;m\n'), 'the command line is green');
  });

  it('stops at a failing command that set -e alone would let through', async () => {
    const { result, log } = await sandbox.run(makeJob({ script: ['false && true', 'echo never'] }));
    assert.equal(result.exitCode, 1);
    assert.doesNotMatch(log, /^never$/m);
  });

  it('runs a multi-line command as written and prefixes each of its lines', async () => {
    const command = 'for word in a b; do\n  echo "word $word"\ndone\n';
    const { result, log } = await sandbox.run(makeJob({ script: [command, "echo 'it''s' \"%s\""] }));
    assert.equal(result.status, 'success', log);
    assert.match(log, /^\$ for word in a b; do\n\$ {3}echo "word \$word"\n\$ done\nword a\nword b\n/m);
    assert.match(log, /^its %s$/m);
  });

  it('runs before_script and script in one shell, in two sections', async () => {
    const { result, chunks } = await sandbox.run(
      makeJob({
        beforeScript: ['export FROM_BEFORE=yes', 'cd sub', 'echo before-out', 'echo before-err >&2'],
        script: ['echo "script-out $FROM_BEFORE $(cat file.txt)"', 'echo script-err >&2'],
      }),
    );
    assert.equal(result.status, 'success');
    const texts = sectionTexts(chunks);
    assert.deepEqual([...texts.keys()], ['prepare', 'before_script', 'script']);
    assert.match(texts.get('before_script') ?? '', /before-out/);
    assert.match(texts.get('before_script') ?? '', /before-err/);
    assert.doesNotMatch(texts.get('before_script') ?? '', /script-/);
    assert.match(texts.get('script') ?? '', /script-out yes in sub/);
    assert.match(texts.get('script') ?? '', /script-err/);
    for (const chunk of chunks) {
      if (chunk.kind === 'section_end') assert.ok(chunk.durationMs >= 0);
    }
  });

  it('keeps the sections apart when before_script silences stderr', async () => {
    const { result, chunks } = await sandbox.run(
      makeJob({ beforeScript: ['exec 2>/dev/null', 'echo before-out'], script: ['echo script-out'] }),
    );
    assert.equal(result.status, 'success');
    const texts = sectionTexts(chunks);
    assert.match(texts.get('before_script') ?? '', /before-out/);
    assert.match(texts.get('script') ?? '', /script-out/);
  });

  it('reports a failing before_script and does not run the script', async () => {
    const { result, log, chunks } = await sandbox.run(makeJob({ beforeScript: ['exit 4'], script: ['echo never'] }));
    assert.equal(result.failure?.message, 'before_script failed with exit code 4');
    assert.doesNotMatch(log, /^never$/m);
    const sections = chunks.flatMap((chunk) => (chunk.kind === 'section_start' ? [chunk.section] : []));
    assert.deepEqual(sections, ['prepare', 'before_script', 'script']);
  });

  it('reports a script killed by a signal with 128 plus the signal number', async () => {
    const { result } = await sandbox.run(makeJob({ script: ['kill -KILL $$'] }));
    assert.equal(result.exitCode, 137);
    assert.equal(result.failure?.kind, 'script_failure');
  });

  it('runs after_script after a failure, with CI_JOB_STATUS, without changing the status', async () => {
    const failed = await sandbox.run(
      makeJob({ script: ['exit 3'], afterScript: ['echo "status=$CI_JOB_STATUS"', 'exit 9'] }),
    );
    assert.equal(failed.result.exitCode, 3);
    assert.equal(failed.result.failure?.kind, 'script_failure');
    assert.match(failed.log, /^status=failed$/m);
    assert.match(failed.log, /after_script failed with exit code 9; the job status is not changed/);
    const succeeded = await sandbox.run(makeJob({ afterScript: ['echo "status=$CI_JOB_STATUS"', 'false'] }));
    assert.equal(succeeded.result.status, 'success');
    assert.match(succeeded.log, /^status=success$/m);
  });

  it('stops an after_script that runs past its own timeout', async () => {
    const { result, log } = await sandbox.run(makeJob({ afterScript: ['sleep 1000'] }), { afterScriptTimeoutMs: 300 });
    assert.equal(result.status, 'success');
    assert.match(log, /after_script exceeded its timeout of 300ms and was stopped/);
  });

  it('passes variables expanded, with the workspace variables and a sane environment', async () => {
    process.env['SLIPWAY_TEST_AGENT_TOKEN'] = 'agent-secret';
    try {
      const { result, log } = await sandbox.run(
        makeJob({
          variables: { FROM_JOB: 'job', OVERRIDDEN: 'by job' },
          script: [
            'echo "greeting=$TARGET price=$PRICE job=$FROM_JOB over=$OVERRIDDEN"',
            'echo "dir=$DIR_COPY"',
            'echo "token=${SLIPWAY_TEST_AGENT_TOKEN:-unset}"',
            'case "$PATH" in *:/opt/custom) echo path-extended;; esac',
            'test -n "$HOME" && command -v ls >/dev/null && echo tools-found',
          ],
        }),
        {
          variables: {
            GREETING: 'hello',
            TARGET: '${GREETING} world',
            PRICE: '$$5',
            OVERRIDDEN: 'by request',
            DIR_COPY: '$CI_PROJECT_DIR',
            PATH: '$PATH:/opt/custom',
          },
        },
      );
      assert.equal(result.status, 'success', log);
      assert.match(log, /^greeting=hello world price=\$5 job=job over=by request$/m);
      assert.match(log, /^dir=\/.*\/work\/test-[0-9a-f]+\/repo$/m);
      assert.match(log, /^token=unset$/m);
      assert.match(log, /^path-extended$/m);
      assert.match(log, /^tools-found$/m);
    } finally {
      delete process.env['SLIPWAY_TEST_AGENT_TOKEN'];
    }
  });

  it('gives a job the whitelisted variables of the base environment it is handed, and nothing of its own process environment', async () => {
    const hadLanguage = process.env['LANGUAGE'];
    process.env['LANGUAGE'] = 'from-the-process';
    try {
      const { result, log } = await sandbox.run(
        makeJob({ script: ['echo "tz=${TZ:-unset} home=$HOME language=${LANGUAGE:-unset} token=${SLIPWAY_TEST_BASE_TOKEN:-unset}"'] }),
        { baseEnv: { PATH: process.env['PATH'], HOME: '/nonexistent/base-home', TZ: 'Antarctica/Troll', SLIPWAY_TEST_BASE_TOKEN: 'base-secret' } },
      );
      assert.equal(result.status, 'success', log);
      assert.match(log, /^tz=Antarctica\/Troll home=\/nonexistent\/base-home language=unset token=unset$/m);
    } finally {
      if (hadLanguage === undefined) delete process.env['LANGUAGE'];
      else process.env['LANGUAGE'] = hadLanguage;
    }
  });
});

describe('variable expansion', () => {
  it('expands $VAR and ${VAR}, keeps $$ as $, and empties unknown names', () => {
    const lookup = (name: string): string | undefined => ({ A: 'x', B: 'y' })[name];
    assert.equal(expandText('$A-${B}-$$A-$MISSING-$-${', lookup), 'x-y-$A--$-${');
  });

  it('resolves references between variables and lets a self-reference see the inherited value', () => {
    const expanded = expandVariables({ A: '$B/a', B: '$C/b', C: 'c', PATH: '$PATH:/x', LOOP1: '$LOOP2', LOOP2: '$LOOP1' }, { PATH: '/bin' });
    assert.equal(expanded['A'], 'c/b/a');
    assert.equal(expanded['PATH'], '/bin:/x');
    assert.equal(expanded['LOOP1'], '');
  });
});

describe('POSIX sh', () => {
  it('runs the commands with /bin/sh when bash is missing, with the same echo and exit status', async () => {
    const { dir, remove } = await tempDir('sh');
    try {
      const chunks: OutputChunk[] = [];
      const masker = new Masker([]);
      const output = new JobOutput((chunk) => chunks.push(chunk), masker, performance.now());
      const { outcome, reachedMain } = await runShell({
        shell: { path: '/bin/sh', prelude: 'set -e' },
        beforeScript: ['X=from-before'],
        script: ["echo \"x=$X it's\"", 'false || echo recovered', 'sh -c "exit 5"', 'echo never'],
        sections: { before: 'before_script', main: 'script' },
        scriptPath: `${dir}/script.sh`,
        cwd: dir,
        env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin' },
        timeoutMs: 5000,
        killGraceMs: 300,
        signal: null,
        output,
        masker,
      });
      assert.deepEqual(outcome, { kind: 'exited', exitCode: 5, signal: null });
      assert.equal(reachedMain, true);
      const log = logText(chunks);
      assert.match(log, /^\$ echo "x=\$X it's"\nx=from-before it's\n/m);
      assert.match(log, /^recovered$/m);
      assert.doesNotMatch(log, /^never$/m);
    } finally {
      await remove();
    }
  });
});

describe('a shell that cannot start', () => {
  it('rejects without opening a section', async () => {
    const { dir, remove } = await tempDir('noshell');
    try {
      const chunks: OutputChunk[] = [];
      const masker = new Masker([]);
      const output = new JobOutput((chunk) => chunks.push(chunk), masker, performance.now());
      await assert.rejects(
        runShell({
          shell: { path: `${dir}/no-such-shell`, prelude: 'set -e' },
          beforeScript: [],
          script: ['true'],
          sections: { before: null, main: 'script' },
          scriptPath: `${dir}/script.sh`,
          cwd: dir,
          env: {},
          timeoutMs: 5000,
          killGraceMs: 300,
          signal: null,
          output,
          masker,
        }),
        /ENOENT/,
      );
      assert.deepEqual(chunks, []);
    } finally {
      await remove();
    }
  });
});

describe('durations', () => {
  it('reads like a person would write them', () => {
    assert.equal(formatDuration(90_000), '1m 30s');
    assert.equal(formatDuration(1500), '1.5s');
    assert.equal(formatDuration(3_600_000), '1h');
    assert.equal(formatDuration(3_725_000), '1h 2m 5s');
    assert.equal(formatDuration(250), '250ms');
  });
});

describe('script generation', () => {
  it('quotes commands safely in the echo lines', () => {
    const shell: Shell = { path: '/bin/sh', prelude: 'set -e' };
    const script = buildScript(shell, [{ kind: 'command', command: "echo 'a' $(b)" }]);
    assert.match(script, /^set -e$/m);
    assert.ok(script.includes(`printf '\\033[32;1m$ %s\\033[0;m\\n' 'echo '\\''a'\\'' $(b)'`));
  });
});
