import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { download, enc, get, getUnlessMissing, q } from '../api/client.js';
import type { ArtifactList, Build, Job } from '../api/types.js';
import { JobActions } from '../components/actions.js';
import { Card, Empty, ErrorBox, Loading, Unloaded } from '../components/common.js';
import { Status } from '../components/status.js';
import { bytes, duration, elapsed, isFinished } from '../format.js';
import { useEvents, useLoad, useNow, useTitle } from '../hooks.js';
import { LogViewer, useJobLog } from '../log/index.js';

/** A finished job's artifacts (the page shows them once the job has finished: none are kept before). */
function Artifacts({ jobId }: { jobId: number }): JSX.Element {
  const list = useLoad((signal) => getUnlessMissing<ArtifactList>(`/api/v1/jobs/${jobId}/artifacts`, signal), [jobId]);
  const [error, setError] = useState<Error | null>(null);
  const files = (list.data?.entries ?? []).filter((e) => e.type === 'file');
  const fetchFile = (path: string) => download(`/api/v1/jobs/${jobId}/artifacts/file${q({ path })}`, path.split('/').pop() ?? 'artifact').catch((e: unknown) => setError(e as Error));
  return (
    <Card
      title="Artifacts"
      id="artifacts-title"
      actions={
        list.data === null ? undefined : (
          <button type="button" onClick={() => void download(`/api/v1/jobs/${jobId}/artifacts/archive`, `job-${jobId}-artifacts.tar.gz`).catch((e: unknown) => setError(e as Error))}>
            Download all (.tar.gz)
          </button>
        )
      }
    >
      <ErrorBox error={list.error ?? error} />
      {list.loading && list.data === null ? (
        <Loading what="artifacts" />
      ) : list.data === null ? (
        <Empty>This job kept no artifacts.</Empty>
      ) : (
        <ul class="artifacts">
          {files.map((entry) => (
            <li key={entry.path}>
              <button type="button" class="link" onClick={() => void fetchFile(entry.path)}>
                {entry.path}
              </button>{' '}
              <span class="muted">{bytes(entry.size)}</span>
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export function JobPage({ id }: { id: number }): JSX.Element {
  const now = useNow();
  const job = useLoad((signal) => get<Job>(`/api/v1/jobs/${id}`, signal), [id]);
  const j = job.data;
  const build = useLoad((signal) => (j === null ? Promise.resolve(null) : get<Build>(`/api/v1/builds/${j.buildId}`, signal)), [j?.buildId ?? 0]);
  useEvents((e) => e.type === 'job.updated' && e.payload.jobId === id, job.reload, 100);
  const live = j !== null && !isFinished(j.status);
  const [follow, setFollow] = useState(true);
  const log = useJobLog(id, j?.attempts ?? 0);
  useEffect(() => {
    // For measurements (the browser test): how long the log took, and when it was shown.
    if (log.openMs !== null) {
      document.documentElement.dataset.logOpenMs = String(Math.round(log.openMs));
      document.documentElement.dataset.logShownAt = String(Math.round(performance.now()));
    }
  }, [log.openMs]);
  useTitle(j === null ? `Job ${id}` : `${j.name} · log`);
  if (j === null) return <Unloaded error={job.error} what="the job" />;
  const b = build.data;
  return (
    <main id="main" class="page page-log" data-job-status={j.status}>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="/">Dashboard</a> /{' '}
        {b === null ? null : (
          <>
            <a href={`/projects/${enc(b.project)}`}>{b.project}</a> / <a href={`/builds/${b.id}`}>#{b.number}</a> /{' '}
          </>
        )}
        <span aria-current="page">{j.name}</span>
      </nav>
      <div class="title-row">
        <h1>{j.name}</h1>
        <Status status={j.status} allowed={j.failureAllowed} />
        <span class="muted">
          {j.stage} · {duration(elapsed(j.startedAt, j.finishedAt, now))}
          {j.attempts > 1 ? ` · attempt ${j.attempts}` : ''}
        </span>
        <span class="spacer" />
        <JobActions job={j} onDone={job.reload} primaryRun />
      </div>
      {j.failure === null ? null : (
        <p class="notice" role="note">
          {j.failure.kind === 'script_failure' ? 'The script failed' : j.failure.kind === 'timeout' ? 'The job timed out' : j.failure.kind === 'agent_lost' ? 'The agent was lost (a system failure, not your script)' : 'A system failure'}: {j.failure.message}
        </p>
      )}
      <ErrorBox error={log.error} />
      {j.attempts === 0 ? (
        <Empty>{j.status === 'manual' ? 'This job runs when someone starts it.' : 'No log yet: the job waits for an agent.'}</Empty>
      ) : log.loading ? (
        <Loading what="the log" />
      ) : (
        <LogViewer
          doc={log.doc}
          version={log.version}
          live={live}
          follow={follow && live}
          onFollow={setFollow}
          toolbar={
            <button type="button" onClick={() => void download(`/api/v1/jobs/${id}/log/raw?attempt=${j.attempts}`, `job-${id}-attempt-${j.attempts}.log`)}>
              Download raw
            </button>
          }
        />
      )}
      {isFinished(j.status) ? <Artifacts jobId={id} /> : null}
    </main>
  );
}
