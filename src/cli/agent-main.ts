import { Command } from 'commander';
import { createRequire } from 'node:module';
import { registerAgent } from './commands/agent.js';
import { reportCliError } from './exit.js';

/**
 * The `agent` command alone: the entry of the agent bundle (scripts/bundle-agent.mjs),
 * which container engines run with the node of their runtime volume (/opt/slipway) in
 * images that have no Slipway.
 * Same conventions as main.ts, without the server's dependencies.
 */

/** Replaced by the bundler with package.json's version; the unbundled entry reads the file. */
declare const __SLIPWAY_VERSION__: string | undefined;

const version =
  typeof __SLIPWAY_VERSION__ === 'string'
    ? __SLIPWAY_VERSION__
    : (createRequire(import.meta.url)('../../../package.json') as { version: string }).version;

const program = new Command('slipway')
  .description('Slipway build agent')
  .version(version)
  .showHelpAfterError()
  .exitOverride();

registerAgent(program);

// No top-level await: the bundle is CommonJS, which V8 can keep a code cache of (scripts/bundle-agent.mjs).
program.parseAsync(process.argv).catch(reportCliError);
