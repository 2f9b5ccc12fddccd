import type { Command } from 'commander';
import { SlipwayError } from '../../errors/index.js';
import { apiClient, formatTable, formatTime, listAll, output, runClient, withClientOptions, type ClientFlags } from '../client.js';

type Token = { id: number; name: string; scopes: string[]; createdAt: number; lastUsedAt: number | null; revokedAt: number | null; expiresAt: number | null };

const scopes = ['read', 'write', 'admin'];

export function registerTokens(program: Command): void {
  const tokens = program.command('tokens').description('manage API tokens on a server (needs an admin token)');

  withClientOptions(tokens.command('list').description('list API tokens, revoked ones included')).action((flags: ClientFlags) =>
    runClient(async () => {
      const items = await listAll<Token>(apiClient(flags), '/api/v1/tokens');
      output(flags, items, () =>
        formatTable([
          ['ID', 'NAME', 'SCOPES', 'CREATED', 'LAST USED', 'STATE'],
          ...items.map((t) => [String(t.id), t.name, t.scopes.join(','), formatTime(t.createdAt), formatTime(t.lastUsedAt), t.revokedAt === null ? 'active' : 'revoked']),
        ]),
      );
    }),
  );

  withClientOptions(tokens.command('create <name>').description('create an API token and print it (shown once)'))
    .option('--scope <scopes>', 'comma-separated: read, write, admin', 'read')
    .action((name: string, flags: ClientFlags & { scope: string }) => {
      const wanted = flags.scope.split(',').map((s) => s.trim()).filter((s) => s !== '');
      const unknown = wanted.filter((s) => !scopes.includes(s));
      if (wanted.length === 0 || unknown.length > 0) {
        throw new SlipwayError('USAGE', `--scope ${flags.scope}: give one or more of ${scopes.join(', ')}, separated by commas`);
      }
      return runClient(async () => {
        const created = await apiClient(flags).request<Token & { token: string }>('POST', '/api/v1/tokens', { name, scopes: wanted });
        output(flags, created, () => `Token ${created.id} (${created.scopes.join(',')}), shown once: ${created.token}\n`);
      });
    });

  withClientOptions(tokens.command('revoke <id>').description('revoke an API token')).action((id: string, flags: ClientFlags) => {
    if (!/^\d+$/.test(id)) throw new SlipwayError('USAGE', `revoke ${id}: give the token's id (a number, see slipway tokens list)`);
    return runClient(async () => {
      await apiClient(flags).request('DELETE', `/api/v1/tokens/${id}`);
      output(flags, { id: Number(id), revoked: true }, () => `Token ${id} revoked\n`);
    });
  });
}
