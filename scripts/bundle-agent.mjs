// Bundles the agent (dist/src/cli/agent-main.js, built by tsc) into one file that runs
// with a bare `node` and no node_modules: container engines put it, with a node binary,
// into a read-only volume at /opt/slipway of build images that have neither (docs/docker.md).
//
// A new agent container starts a cold node, and compiling the bundle was a good part of
// its start-up. So the file carries a V8 code cache: the agent is bundled as CommonJS and
// the file holds that source as a string, the cache, and a few lines that compile the
// source with the cache (vm.Script). The cache is made by running the agent once here:
// it starts and tries to connect, which is what a new agent compiles before its first
// job. A node of another version (or other V8 flags) rejects the cache and compiles as
// before: the cache only makes it faster.
import { build } from 'esbuild';
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist/src/cli/agent-main.js');
const outfile = path.join(root, 'dist/agent-bundle/slipway-agent.mjs');
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

const result = await build({
  entryPoints: [entry],
  write: false,
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  // ws loads these optional native helpers in a try/catch and falls back to JavaScript.
  external: ['bufferutil', 'utf-8-validate'],
  // The bundled ES modules ask import.meta.url; in CommonJS it is the file's URL.
  banner: { js: "var __slipwayModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  define: { __SLIPWAY_VERSION__: JSON.stringify(version), 'import.meta.url': '__slipwayModuleUrl' },
  metafile: true,
  logLevel: 'warning',
  legalComments: 'none',
  // Whitespace and syntax only: identifiers stay, so an agent's stack traces still read.
  minifyWhitespace: true,
  minifySyntax: true,
});

// The agent must not drag the server in: its databases and HTTP server have native parts.
const forbidden = ['better-sqlite3', 'pg', 'fastify', 'kysely', 'dockerode'];
const inputs = Object.keys(result.metafile.inputs);
const leaked = forbidden.filter((name) => inputs.some((input) => input.includes(`node_modules/${name}/`)));
if (leaked.length > 0) {
  console.error(`bundle-agent: the agent bundle includes ${leaked.join(', ')}; the agent must not import the server`);
  process.exit(1);
}
const [output] = result.outputFiles;
// CommonJS's own wrapper: the cache is valid for exactly this source.
const source = `(function (exports, require, module, __filename, __dirname) {${output.text}\n})`;

/** The file: the source, the cache (base64, '' for none), and what runs them. */
function agentFile(cache) {
  return [
    '// The Slipway agent, bundled by scripts/bundle-agent.mjs: CommonJS source compiled with a V8 code cache.',
    "import { createRequire } from 'node:module';",
    "import path from 'node:path';",
    "import { fileURLToPath } from 'node:url';",
    "import vm from 'node:vm';",
    `const source = ${JSON.stringify(source)};`,
    `const cache = ${JSON.stringify(cache)};`,
    'const filename = fileURLToPath(import.meta.url);',
    "const script = new vm.Script(source, { filename, ...(cache === '' ? {} : { cachedData: Buffer.from(cache, 'base64') }) });",
    'const module = { exports: {} };',
    'script.runInThisContext()(module.exports, createRequire(filename), module, filename, path.dirname(filename));',
    // Only when bundling: the cache of what this run compiled.
    "if (cache === '' && process.env.SLIPWAY_AGENT_CACHE_OUT) process.once('exit', () => writeCache(script.createCachedData()));",
    "function writeCache(data) { createRequire(filename)('node:fs').writeFileSync(process.env.SLIPWAY_AGENT_CACHE_OUT, data); }",
    '',
  ].join('\n');
}

const work = mkdtempSync(path.join(os.tmpdir(), 'slipway-bundle-agent-'));
try {
  const cacheFile = path.join(work, 'cache');
  const uncached = path.join(work, 'slipway-agent.mjs');
  writeFileSync(uncached, agentFile(''));
  // What a new agent compiles first: start, then connect (to a port nothing listens on),
  // until it says it will try again; SIGTERM ends it the way an engine's stop does.
  const run = await new Promise((resolve) => {
    const child = spawn(process.execPath, [uncached, 'agent', '--server', 'http://127.0.0.1:9/', '--name', 'bundle', '--work-dir', path.join(work, 'agent')], {
      env: { ...process.env, SLIPWAY_AGENT_TOKEN: 'bundle', SLIPWAY_AGENT_CACHE_OUT: cacheFile },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    let stopped = false;
    const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
      // Once: a second signal makes the agent quit at once (exit 130).
      if (!stopped && stderr.includes('agent: reconnecting')) {
        stopped = true;
        child.kill('SIGTERM');
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
  });
  if (run.code !== 0 || !existsSync(cacheFile)) {
    console.error(`bundle-agent: the bundled agent does not run (exit ${run.code}):\n${run.stderr}`);
    process.exit(1);
  }
  mkdirSync(path.dirname(outfile), { recursive: true });
  writeFileSync(outfile, agentFile(readFileSync(cacheFile).toString('base64')));
} finally {
  rmSync(work, { recursive: true, force: true });
}
console.log(`bundle-agent: ${path.relative(root, outfile)} ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
