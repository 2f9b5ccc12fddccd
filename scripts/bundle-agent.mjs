// Bundles the agent (dist/src/cli/agent-main.js, built by tsc) into one file that runs
// with a bare `node` and no node_modules: container engines put it, with a node binary,
// into a read-only volume at /opt/slipway of build images that have neither (docs/docker.md).
import { build } from 'esbuild';
import { readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'dist/src/cli/agent-main.js');
const outfile = path.join(root, 'dist/agent-bundle/slipway-agent.mjs');
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));

const result = await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'esm',
  // ws loads these optional native helpers in a try/catch and falls back to JavaScript.
  external: ['bufferutil', 'utf-8-validate'],
  // Bundled CommonJS modules (commander, ws) call require() for Node built-ins.
  banner: { js: "import { createRequire as __slipwayCreateRequire } from 'node:module'; const require = __slipwayCreateRequire(import.meta.url);" },
  define: { __SLIPWAY_VERSION__: JSON.stringify(version) },
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
console.log(`bundle-agent: ${path.relative(root, outfile)} ${(statSync(outfile).size / 1024).toFixed(0)} KiB`);
