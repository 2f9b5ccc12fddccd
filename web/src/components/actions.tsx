import type { JSX } from 'preact';
import { api } from '../api/client.js';
import type { Job } from '../api/types.js';
import { useSubmit } from '../hooks.js';

/** A button for an action of the API; shows its error next to it. */
export function ActionButton({ label, path, onDone, primary = false }: { label: string; path: string; onDone(answer: unknown): void; primary?: boolean }): JSX.Element {
  const { busy, error, run } = useSubmit();
  return (
    <span class="action">
      <button type="button" class={primary ? 'primary' : undefined} disabled={busy} onClick={() => void run(async () => onDone(await api<unknown>('POST', path)))}>
        {label}
      </button>
      {error === null ? null : (
        <span class="error-inline" role="alert">
          {error.message}
        </span>
      )}
    </span>
  );
}

const CANCELABLE = ['created', 'pending', 'running', 'scheduled'];
const RETRIABLE = ['failed', 'canceled'];

/** What a job's status allows: Run a manual job, Cancel an unfinished one, Retry a failed or canceled one. */
export function JobActions({ job, onDone, primaryRun = false }: { job: Pick<Job, 'id' | 'status'>; onDone(): void; primaryRun?: boolean }): JSX.Element {
  const path = (action: string) => `/api/v1/jobs/${job.id}/${action}`;
  return (
    <>
      {job.status === 'manual' ? <ActionButton label="Run" path={path('play')} onDone={onDone} primary={primaryRun} /> : null}
      {CANCELABLE.includes(job.status) ? <ActionButton label="Cancel" path={path('cancel')} onDone={onDone} /> : null}
      {RETRIABLE.includes(job.status) ? <ActionButton label="Retry" path={path('retry')} onDone={onDone} /> : null}
    </>
  );
}
