import type { JSX } from 'preact';
import { buildIdByNumber } from '../api/builds.js';
import { enc, get } from '../api/client.js';
import type { BuildWithJobs } from '../api/types.js';
import { ActionButton, JobActions } from '../components/actions.js';
import { PipelineGraph, stagesOf } from '../components/graph.js';
import { Card, ErrorBox, Loading, Unloaded } from '../components/common.js';
import { Status } from '../components/status.js';
import { ago, duration, elapsed, exact, isFinished, shortSha } from '../format.js';
import { useEvents, useLoad, useNow, useTitle } from '../hooks.js';
import { navigate } from '../router.js';

function JobsByStage({ build, now, reload }: { build: BuildWithJobs; now: number; reload(): void }): JSX.Element {
  return (
    <div class="stages">
      {stagesOf(build.jobs).map((stage) => (
        <section key={stage} class="stage" aria-labelledby={`stage-${stage}`}>
          <h3 id={`stage-${stage}`}>{stage}</h3>
          <ul class="jobs">
            {build.jobs
              .filter((j) => j.stage === stage)
              .map((job) => (
                <li key={job.id} class="job-row" data-job={job.name} data-status={job.status}>
                  <Status status={job.status} allowed={job.failureAllowed} />
                  <a href={`/jobs/${job.id}`} class="job-name">
                    {job.name}
                  </a>
                  <span class="muted num">{duration(elapsed(job.startedAt, job.finishedAt, now))}</span>
                  {job.failure === null ? null : <span class="failure">{job.failure.kind === 'script_failure' ? `exit ${job.failure.exitCode ?? '?'}` : job.failure.kind.replace('_', ' ')}</span>}
                  <span class="actions">
                    <JobActions job={job} onDone={reload} />
                  </span>
                </li>
              ))}
          </ul>
        </section>
      ))}
    </div>
  );
}

export function BuildPage({ id }: { id: number }): JSX.Element {
  const now = useNow();
  const build = useLoad((signal) => get<BuildWithJobs>(`/api/v1/builds/${id}`, signal), [id]);
  useEvents((e) => (e.type === 'job.updated' || e.type === 'build.updated') && e.payload.buildId === id, build.reload, 150);
  const b = build.data;
  useTitle(b === null ? `Build ${id}` : `${b.project} #${b.number}`);
  if (b === null) return <Unloaded error={build.error} what="the build" />;
  return (
    <main id="main" class="page" data-build-status={b.status}>
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="/">Dashboard</a> / <a href={`/projects/${enc(b.project)}`}>{b.project}</a> / <span aria-current="page">#{b.number}</span>
      </nav>
      <div class="title-row">
        <h1>
          {b.project} #{b.number}
        </h1>
        <Status status={b.status} />
        <span class="spacer" />
        {isFinished(b.status) ? null : <ActionButton label="Cancel build" path={`/api/v1/builds/${b.id}/cancel`} onDone={build.reload} />}
        <ActionButton label="Retry build" path={`/api/v1/builds/${b.id}/retry`} onDone={(answer) => navigate(`/builds/${(answer as { id: number }).id}`)} />
      </div>
      <dl class="facts">
        <div>
          <dt>Ref</dt>
          <dd>
            <code>{b.ref}</code>
          </dd>
        </div>
        <div>
          <dt>Commit</dt>
          <dd>
            <code title={b.commitSha}>{shortSha(b.commitSha)}</code> {b.commitMessage?.split('\n')[0] ?? ''}
            {b.commitAuthor === null ? null : <span class="muted"> — {b.commitAuthor}</span>}
          </dd>
        </div>
        <div>
          <dt>Trigger</dt>
          <dd>{b.source}</dd>
        </div>
        <div>
          <dt>Started</dt>
          <dd title={exact(b.startedAt ?? b.createdAt)}>{ago(b.startedAt ?? b.createdAt, now)}</dd>
        </div>
        <div>
          <dt>Duration</dt>
          <dd>{duration(elapsed(b.startedAt, b.finishedAt, now))}</dd>
        </div>
        {Object.keys(b.variables).length === 0 ? null : (
          <div>
            <dt>Variables</dt>
            <dd>
              {Object.entries(b.variables).map(([k, v]) => (
                <code key={k} class="var">
                  {k}={v}
                </code>
              ))}
            </dd>
          </div>
        )}
      </dl>
      {b.errors === null || b.errors.length === 0 ? null : (
        <Card title="Pipeline errors" id="errors-title">
          <ul class="pipeline-errors" role="alert">
            {b.errors.map((e, i) => (
              <li key={i}>
                <code>
                  {e.file}:{e.line}:{e.column}
                </code>{' '}
                {e.message}
              </li>
            ))}
          </ul>
        </Card>
      )}
      {b.reason === null ? null : <p class="notice">Skipped: {b.reason}</p>}
      {b.jobs.length === 0 ? null : (
        <Card title="Pipeline" id="graph-title">
          <PipelineGraph jobs={b.jobs} now={now} />
        </Card>
      )}
      {b.jobs.length === 0 ? null : (
        <Card title="Jobs" id="jobs-title">
          <JobsByStage build={b} now={now} reload={build.reload} />
        </Card>
      )}
    </main>
  );
}

/** /projects/NAME/builds/N (the address the server gives out as a build's url). */
export function BuildByNumber({ project, number }: { project: string; number: number }): JSX.Element {
  const found = useLoad((signal) => buildIdByNumber(project, number, signal), [project, number]);
  if (found.data !== null) return <BuildPage id={found.data} />;
  return (
    <main id="main" class="page">
      <ErrorBox error={found.error} />
      {found.error === null ? <Loading what="the build" /> : null}
    </main>
  );
}
