import type { Command } from 'commander';
import { apiClient, formatTable, formatTime, output, runClient, withClientOptions, type ClientFlags } from '../client.js';

export type BuildView = {
  id: number;
  project: string;
  number: number;
  status: string;
  ref: string;
  commitSha: string;
  commitMessage: string | null;
  source: string;
  url: string;
  errors: Array<{ file: string; line: number; column: number; message: string }> | null;
  reason: string | null;
  createdAt: number;
  jobs?: JobView[];
};

export type JobView = { id: number; name: string; stage: string; status: string; failureAllowed: boolean; failure: { message: string } | null };

type ListFlags = ClientFlags & { status?: string; ref?: string; limit?: string };

export function registerBuilds(program: Command): void {
  withClientOptions(program.command('builds <project>').description("list a project's builds, newest first"))
    .option('--status <status>', 'only builds in this state (pending, running, success, failed, canceled, error, skipped)')
    .option('--ref <ref>', 'only builds of this branch or tag')
    .option('--limit <n>', 'at most this many (default 20)')
    .action((project: string, flags: ListFlags) =>
      runClient(async () => {
        const query = new URLSearchParams({ limit: flags.limit ?? '20' });
        if (flags.status !== undefined) query.set('status', flags.status);
        if (flags.ref !== undefined) query.set('ref', flags.ref);
        const page = await apiClient(flags).request<{ items: BuildView[] }>('GET', `/api/v1/projects/${encodeURIComponent(project)}/builds?${query}`);
        output(flags, page.items, () =>
          formatTable([
            ['#', 'ID', 'STATUS', 'REF', 'COMMIT', 'SOURCE', 'CREATED', 'MESSAGE'],
            ...page.items.map((b) => [String(b.number), String(b.id), b.status, b.ref, b.commitSha.slice(0, 8), b.source, formatTime(b.createdAt), (b.commitMessage ?? '').split('\n')[0] ?? '']),
          ]),
        );
      }),
    );
}
