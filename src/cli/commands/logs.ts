import { setTimeout as delay } from 'node:timers/promises';
import type { Command } from 'commander';
import { SlipwayError } from '../../errors/index.js';
import { apiClient, runClient, withClientOptions, type ClientFlags } from '../client.js';
import { parsePositiveInt } from '../options.js';

type LogRead = { attempt: number; text: string; nextOffset: number; size: number; complete: boolean };

// Following polls this often: output shows up within half a second without loading the server.
const FOLLOW_INTERVAL_MS = 500;

export function registerLogs(program: Command): void {
  withClientOptions(program.command('logs <job-id>').description("print a job's log (the newest attempt unless --attempt)"))
    .option('-f, --follow', 'keep printing as the log grows, until the attempt ends')
    .option('--attempt <n>', 'which attempt (1, 2, ...)')
    .action((jobId: string, flags: ClientFlags & { follow?: boolean; attempt?: string }) => {
      if (!/^\d+$/.test(jobId)) throw new SlipwayError('USAGE', `logs ${jobId}: give the job's id (a number, as the build's jobs list it)`);
      const attempt = flags.attempt === undefined ? undefined : parsePositiveInt('--attempt', flags.attempt);
      return runClient(async () => {
        const client = apiClient(flags);
        let offset = 0;
        // Pinned after the first read, so following never jumps to a retry's log halfway.
        let pinned = attempt;
        for (;;) {
          const query = new URLSearchParams({ offset: String(offset) });
          if (pinned !== undefined) query.set('attempt', String(pinned));
          const read = await client.request<LogRead>('GET', `/api/v1/jobs/${jobId}/log?${query.toString()}`);
          if (read.text !== '') process.stdout.write(read.text);
          if (read.attempt > 0) pinned = read.attempt;
          offset = read.nextOffset;
          if (offset < read.size) continue;
          if (flags.follow !== true || read.complete) return;
          await delay(FOLLOW_INTERVAL_MS);
        }
      });
    });
}
