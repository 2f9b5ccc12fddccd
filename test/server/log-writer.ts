// A process that streams logs into a LogStore until it is killed, for the crash test:
// `node log-writer.js DIR JOBS`. It prints `<jobId> <ackedSeq>` after every append, so
// the test knows what was acknowledged when it sends SIGKILL.
import { pathToFileURL } from 'node:url';
import { openLogStore, type LogChunk } from '../../src/server/logs/index.js';

/** The text of chunk seq of a job: varied lengths, multi-byte characters, not always a whole line. */
export function writerText(jobId: number, seq: number): string {
  const filler = 'é€😀x'.repeat((seq * 37 + jobId) % 300);
  return seq % 5 === 0 ? `${jobId}:${seq}:${filler}` : `${jobId}:${seq}:${filler}\n`;
}

async function main(dir: string, jobs: number): Promise<void> {
  const store = await openLogStore({ dir, commitDelayMs: 1 });
  await Promise.all(
    Array.from({ length: jobs }, async (_, index) => {
      const key = { jobId: index + 1, attempt: 1 };
      let acked = 0;
      for (;;) {
        // Like an agent after a reconnect: the batch starts a little before the ack.
        const from = Math.max(1, acked - 2);
        const chunks: LogChunk[] = [];
        for (let seq = from; seq < acked + 24; seq += 1) {
          chunks.push({ seq, kind: 'data', stream: 'stdout', data: writerText(key.jobId, seq), atMs: seq });
        }
        ({ ackedSeq: acked } = await store.append(key, chunks));
        process.stdout.write(`${key.jobId} ${acked}\n`);
      }
    }),
  );
}

const entry = process.argv[1];
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  const [dir, jobs] = process.argv.slice(2);
  if (dir === undefined) throw new Error('usage: log-writer.js DIR JOBS');
  await main(dir, Number(jobs ?? 1));
}
