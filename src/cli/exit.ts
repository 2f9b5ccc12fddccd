import { CommanderError } from 'commander';
import { isSlipwayError } from '../errors/index.js';

/**
 * How both entries (main.ts, agent-main.ts) end on an error: commander has printed its
 * own; a SlipwayError is one line for the user (exit 2 for a usage error, 1 otherwise);
 * anything else is a bug, printed with its stack as an uncaught error would be.
 */
export function reportCliError(error: unknown): void {
  if (error instanceof CommanderError) {
    process.exitCode = error.exitCode;
  } else if (isSlipwayError(error)) {
    process.stderr.write(`slipway: ${error.message}\n`);
    process.exitCode = error.code === 'USAGE' ? 2 : 1;
  } else {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exitCode = 1;
  }
}
