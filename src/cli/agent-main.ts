import { Command, CommanderError } from 'commander';
import { createRequire } from 'node:module';
import { isSlipwayError } from '../errors/index.js';
import { registerAgent } from './commands/agent.js';

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
program.parseAsync(process.argv).catch((error: unknown) => {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else if (isSlipwayError(error)) {
    process.stderr.write(`slipway: ${error.message}\n`);
    process.exitCode = error.code === 'USAGE' ? 2 : 1;
  } else {
    // What an uncaught error would print.
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  }
});
