import type { Command } from 'commander';
import type { ConfigFlags } from '../../server/index.js';

type ServerFlags = ConfigFlags & { config?: string };

export function registerServer(program: Command): void {
  program
    .command('server')
    .description('run the Slipway server (API on --listen; configuration: docs/server.md)')
    .option('--config <file>', 'the YAML configuration file (default: slipway.yml in the home directory, if present)')
    .option('--listen <host:port>', 'where to listen (default 127.0.0.1:8080; port 0 picks a free one)')
    .option('--database <url>', 'sqlite:/path/slipway.db or postgres://user:password@host/database (default: sqlite in the home directory)')
    .option('--home <dir>', 'the server home directory (default ./.slipway)')
    .action(async (flags: ServerFlags) => {
      // Loaded here, not at the top: the server (fastify, kysely, pg, SQLite) is the heaviest part of the CLI by far.
      const { loadConfig, readConfigFile, startServer } = await import('../../server/index.js');
      const { config: configPath, ...configFlags } = flags;
      const file = await readConfigFile({ ...(configPath === undefined ? {} : { configPath }), flags: configFlags, env: process.env });
      const config = loadConfig({ flags: configFlags, env: process.env, ...(file ?? {}) });
      const server = await startServer(config, { baseEnv: process.env });
      process.stdout.write(`Slipway server listening on ${server.url}\n`);
      await new Promise<void>((resolve, reject) => {
        const stop = (): void => {
          process.off('SIGINT', stop);
          process.off('SIGTERM', stop);
          server.close().then(resolve, reject);
        };
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      });
    });
}
