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

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else if (isSlipwayError(error)) {
    process.stderr.write(`slipway: ${error.message}\n`);
    process.exitCode = error.code === 'USAGE' ? 2 : 1;
  } else {
    throw error;
  }
}
