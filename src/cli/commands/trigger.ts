import type { Command } from 'commander';
import { SlipwayError, messageOf } from '../../errors/index.js';
import { apiClient, formatTable, output, runClient, withClientOptions, type ClientFlags } from '../client.js';
import type { BuildView, JobView } from './builds.js';

type TriggerFlags = ClientFlags & { ref?: string; var: string[]; wait?: boolean };

const finished = new Set(['success', 'failed', 'canceled', 'error', 'skipped']);

export function registerTrigger(program: Command): void {
  withClientOptions(program.command('trigger <project>').description("start a build of a project (its default branch unless --ref)"))
    .option('--ref <ref>', 'the branch, tag or commit to build')
    .option('--var <KEY=VALUE>', 'a trigger variable (repeatable)', (value: string, all: string[]) => [...all, value], [])
    .option('--wait', 'follow the build until it ends; exit 0 only if it succeeded')
    .action((project: string, flags: TriggerFlags) =>
      runClient(async () => {
        const body = { ...(flags.ref === undefined ? {} : { ref: flags.ref }), variables: parseVariables(flags.var) };
        const client = apiClient(flags);
        const build = await client.request<BuildView>('POST', `/api/v1/projects/${encodeURIComponent(project)}/builds`, body);
        if (flags.wait !== true) {
          output(flags, build, () => describe(build));
          return;
        }
        if (flags.json !== true) process.stdout.write(describe(build));
        const last = await follow(flags, build, (job) => {
          if (flags.json !== true) process.stdout.write(`${job.name}: ${job.status}${job.failure === null ? '' : ` (${job.failure.message})`}\n`);
        });
        output(flags, last, () => `Build #${last.number} ${last.status}\n`);
        if (last.status !== 'success') process.exitCode = 1;
      }),
    );

  withClientOptions(program.command('cancel <build-id>').description('cancel a build')).action((id: string, flags: ClientFlags) =>
    runClient(async () => {
      const build = await apiClient(flags).request<BuildView>('POST', `/api/v1/builds/${encodeURIComponent(id)}/cancel`);
      output(flags, build, () => `Build #${build.number} of ${build.project}: ${build.status}\n`);
    }),
  );

  withClientOptions(program.command('retry [build-id]').description('start a new build of the same commit, or run one job again with --job'))
    .option('--job <job-id>', 'retry this failed or canceled job inside its build')
    .action((id: string | undefined, flags: ClientFlags & { job?: string }) =>
      runClient(async () => {
        const client = apiClient(flags);
        if (flags.job !== undefined) {
          const job = await client.request<JobView>('POST', `/api/v1/jobs/${encodeURIComponent(flags.job)}/retry`);
          output(flags, job, () => `Job ${job.name} (${job.id}): ${job.status}\n`);
          return;
        }
        if (id === undefined) throw new SlipwayError('USAGE', 'give a build id, or --job JOB_ID');
        const build = await client.request<BuildView>('POST', `/api/v1/builds/${encodeURIComponent(id)}/retry`);
        output(flags, build, () => describe(build));
      }),
    );
}

function describe(build: BuildView): string {
  let text = `Build #${build.number} (id ${build.id}) of ${build.project}: ${build.status}\n${build.url}\n`;
  if (build.errors !== null) text += build.errors.map((e) => `${e.file}:${e.line}:${e.column}: ${e.message}\n`).join('');
  if (build.reason !== null) text += `${build.reason}\n`;
  if (build.jobs !== undefined && build.jobs.length > 0) text += formatTable([['JOB', 'STAGE', 'STATUS'], ...build.jobs.map((j) => [j.name, j.stage, j.status])]);
  return text;
}

function parseVariables(pairs: readonly string[]): Record<string, string> {
  const variables: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf('=');
    if (at <= 0) throw new SlipwayError('USAGE', `--var ${pair}: write KEY=VALUE`);
    variables[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return variables;
}

/**
 * Follows the build over GET /api/v1/events until it ends; reconnects with Last-Event-ID
 * when the stream drops. The build is read again after each (re)connection, so nothing
 * that happened before the stream opened is missed.
 */
async function follow(flags: ClientFlags, start: BuildView, onJob: (job: JobView) => void): Promise<BuildView> {
  const server = (flags.server ?? process.env.SLIPWAY_SERVER ?? 'http://127.0.0.1:8080').replace(/\/+$/, '');
  const token = flags.token ?? process.env.SLIPWAY_TOKEN;
  const client = apiClient(flags);
  const seen = new Map<number, string>();
  const report = (build: BuildView) => {
    for (const job of build.jobs ?? []) {
      if (seen.get(job.id) !== job.status) {
        seen.set(job.id, job.status);
        onJob(job);
      }
    }
  };
  let lastEventId: string | null = null;
  for (;;) {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (token !== undefined && token !== '') headers.authorization = `Bearer ${token}`;
    if (lastEventId !== null) headers['last-event-id'] = lastEventId;
    let response: Response;
    try {
      response = await fetch(`${server}/api/v1/events?project=${encodeURIComponent(start.project)}`, { headers });
    } catch (error) {
      throw new SlipwayError('INTERNAL', `lost the Slipway server at ${server}: ${messageOf(error)}`, { details: { fromServer: true } });
    }
    if (!response.ok || response.body === null) {
      throw new SlipwayError('INTERNAL', `the event stream answered ${response.status}: ${await response.text()}`, { details: { fromServer: true } });
    }
    const current = await client.request<BuildView>('GET', `/api/v1/builds/${start.id}`);
    report(current);
    if (finished.has(current.status)) {
      await response.body.cancel();
      return current;
    }
    const decoder = new TextDecoder();
    let text = '';
    for await (const chunk of response.body) {
      text += decoder.decode(chunk as Uint8Array, { stream: true });
      for (let end = text.indexOf('\n\n'); end >= 0; end = text.indexOf('\n\n')) {
        const frame = text.slice(0, end);
        text = text.slice(end + 2);
        const id = /^id: (.+)$/m.exec(frame)?.[1];
        const data = /^data: (.+)$/m.exec(frame)?.[1];
        if (id !== undefined) lastEventId = id;
        if (data === undefined) continue;
        const event = JSON.parse(data) as { type: string; payload: { buildId?: number; status?: string } };
        if (event.payload.buildId !== start.id) continue;
        if (event.type === 'job.updated' || event.type === 'build.updated') {
          const now = await client.request<BuildView>('GET', `/api/v1/builds/${start.id}`);
          report(now);
          if (finished.has(now.status)) return now; // leaving the loop cancels the stream
        }
      }
    }
  }
}
