import { Command } from 'commander';
import { createRequire } from 'node:module';
import { registerAgent } from './commands/agent.js';
import { registerLogs } from './commands/logs.js';
import { registerBuilds } from './commands/builds.js';
import { registerProject } from './commands/project.js';
import { registerRun } from './commands/run.js';
import { registerServer } from './commands/server.js';
import { registerTokens } from './commands/tokens.js';
import { registerTrigger } from './commands/trigger.js';
import { registerValidate } from './commands/validate.js';
import { reportCliError } from './exit.js';

const { version } = createRequire(import.meta.url)('../../../package.json') as { version: string };

const program = new Command('slipway')
  .description('Slipway: self-hosted CI/CD')
  .version(version)
  .showHelpAfterError()
  .exitOverride();

registerValidate(program);
registerAgent(program);
registerRun(program);
registerServer(program);
registerTokens(program);
registerProject(program);
registerLogs(program);
registerTrigger(program);
registerBuilds(program);

await program.parseAsync(process.argv).catch(reportCliError);
