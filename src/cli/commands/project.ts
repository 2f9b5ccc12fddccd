import path from 'node:path';
import type { Command } from 'commander';
import { SlipwayError } from '../../errors/index.js';
import type { ApiProject } from '../../server/index.js';
import { apiClient, formatTable, formatTime, listAll, output, runClient, withClientOptions, type ClientFlags } from '../client.js';

type Project = ApiProject;

type CreateFlags = ClientFlags & { repo: string; branch?: string; pipeline?: string };

export function registerProject(program: Command): void {
  const project = program.command('project').description('manage projects on a server');

  withClientOptions(project.command('list').description('list projects')).action((flags: ClientFlags) =>
    runClient(async () => {
      const items = await listAll<Project>(apiClient(flags), '/api/v1/projects');
      output(flags, items, () => formatTable([['NAME', 'REPOSITORY', 'BRANCH', 'PIPELINE'], ...items.map((p) => [p.name, p.repositoryUrl, p.defaultBranch, p.pipelinePath])]));
    }),
  );

  withClientOptions(project.command('create <name>').description('create a project'))
    .requiredOption('--repo <url>', 'the git repository: a local path, file://, http(s)://, ssh:// or git@host:path')
    .option('--branch <name>', 'the default branch (default main)')
    .option('--pipeline <path>', 'the pipeline file in the repository (default .slipway.yml)')
    .action((name: string, flags: CreateFlags) =>
      runClient(async () => {
        const body = {
          name,
          repositoryUrl: localOrUrl(flags.repo),
          ...(flags.branch === undefined ? {} : { defaultBranch: flags.branch }),
          ...(flags.pipeline === undefined ? {} : { pipelinePath: flags.pipeline }),
        };
        const created = await apiClient(flags).request<Project>('POST', '/api/v1/projects', body);
        output(flags, created, () => `Project ${created.name} created (${created.repositoryUrl}, branch ${created.defaultBranch})\n`);
      }),
    );

  withClientOptions(project.command('show <name>').description("show a project and its secrets' names")).action((name: string, flags: ClientFlags) =>
    runClient(async () => {
      const client = apiClient(flags);
      const shown = await client.request<Project>('GET', `/api/v1/projects/${encodeURIComponent(name)}`);
      const secrets = await client.request<{ items: Array<{ name: string; updatedAt: number }> }>('GET', `/api/v1/projects/${encodeURIComponent(name)}/secrets`);
      output(flags, { ...shown, secrets: secrets.items }, () =>
        formatTable([
          ['name', shown.name],
          ['repository', shown.repositoryUrl],
          ['branch', shown.defaultBranch],
          ['pipeline', shown.pipelinePath],
          ['concurrency limit', shown.concurrencyLimit === null ? 'none' : String(shown.concurrencyLimit)],
          ['priority', String(shown.priority)],
          ['poll every', shown.pollIntervalSeconds === null ? 'never' : `${shown.pollIntervalSeconds} s`],
          ['variables', Object.keys(shown.variables).join(', ') || '-'],
          ['secrets', secrets.items.map((s) => s.name).join(', ') || '-'],
          ['created', formatTime(shown.createdAt)],
        ]),
      );
    }),
  );

  withClientOptions(project.command('delete <name>').description('delete a project with its secrets and builds')).action((name: string, flags: ClientFlags) =>
    runClient(async () => {
      await apiClient(flags).request('DELETE', `/api/v1/projects/${encodeURIComponent(name)}`);
      output(flags, { name, deleted: true }, () => `Project ${name} deleted\n`);
    }),
  );

  const secret = project.command('secret').description("manage a project's secrets");
  withClientOptions(secret.command('set <project> <key>').description('set a secret; the value comes from stdin unless --value is given'))
    .option('--value <value>', 'the value (visible in the process list and shell history; prefer stdin)')
    .action(async (name: string, key: string, flags: ClientFlags & { value?: string }) => {
      const value = flags.value ?? (await readStdin());
      await runClient(async () => {
        const set = await apiClient(flags).request<{ name: string; updatedAt: number }>(
          'PUT',
          `/api/v1/projects/${encodeURIComponent(name)}/secrets/${encodeURIComponent(key)}`,
          { value },
        );
        output(flags, set, () => `Secret ${set.name} of ${name} set\n`);
      });
    });
  withClientOptions(secret.command('delete <project> <key>').description('delete a secret')).action((name: string, key: string, flags: ClientFlags) =>
    runClient(async () => {
      await apiClient(flags).request('DELETE', `/api/v1/projects/${encodeURIComponent(name)}/secrets/${encodeURIComponent(key)}`);
      output(flags, { name: key, deleted: true }, () => `Secret ${key} of ${name} deleted\n`);
    }),
  );
}

/** A relative local path becomes absolute here: the server checks out from its own working directory. */
function localOrUrl(repo: string): string {
  const isUrl = /^[a-z][a-z0-9+.-]*:\/\//i.test(repo) || /^[^/\s]+@[^/\s:]+:/.test(repo);
  return isUrl ? repo : path.resolve(repo);
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) {
    throw new SlipwayError('USAGE', 'give the secret on stdin (printf %s "$VALUE" | slipway project secret set ...) or with --value');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  // One trailing newline is what echo and heredocs add; the secret itself rarely ends in one.
  const value = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '');
  if (value === '') throw new SlipwayError('USAGE', 'standard input was empty: pipe the secret in (printf %s "$VALUE" | ...) or pass --value');
  return value;
}
