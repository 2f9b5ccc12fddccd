import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, enc, get, q } from '../api/client.js';
import type { Build, BuildWithJobs, Page, Project } from '../api/types.js';
import { BuildsTable } from '../components/builds-table.js';
import { Card, Empty, ErrorBox, Loading } from '../components/common.js';
import { useEvents, useLoad, useNow, useSubmit, useTitle } from '../hooks.js';
import { navigate, type Location } from '../router.js';

const STATUSES = ['created', 'pending', 'running', 'success', 'failed', 'canceled', 'error', 'skipped'];

/** "A=1\nB=two" → { A: '1', B: 'two' }; blank lines are ignored. */
function parseVariables(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const eq = line.indexOf('=');
    if (eq <= 0) throw new Error(`"${line.trim()}": write each variable as NAME=value`);
    out[line.slice(0, eq).trim()] = line.slice(eq + 1);
  }
  return out;
}

function TriggerForm({ project }: { project: Project }): JSX.Element {
  const [ref, setRef] = useState(project.defaultBranch);
  const [variables, setVariables] = useState('');
  const { busy, error, run } = useSubmit();
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      const build = await api<BuildWithJobs>('POST', `/api/v1/projects/${enc(project.name)}/builds`, { ref: ref.trim() || undefined, variables: parseVariables(variables) });
      navigate(`/builds/${build.id}`);
    });
  };
  return (
    <form class="trigger" onSubmit={submit} aria-label="Start a build">
      <div class="field">
        <label for="trigger-ref">Branch, tag or commit</label>
        <input id="trigger-ref" value={ref} onInput={(e) => setRef(e.currentTarget.value)} placeholder={project.defaultBranch} />
      </div>
      <div class="field grow">
        <label for="trigger-vars">Variables (NAME=value, one per line)</label>
        <textarea id="trigger-vars" rows={2} value={variables} onInput={(e) => setVariables(e.currentTarget.value)} spellcheck={false} />
      </div>
      <button type="submit" class="primary" disabled={busy}>
        {busy ? 'Starting…' : 'Start build'}
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

export function ProjectPage({ name, location }: { name: string; location: Location }): JSX.Element {
  useTitle(name);
  const now = useNow();
  const ref = location.query.get('ref') ?? '';
  const status = location.query.get('status') ?? '';
  const cursor = location.query.get('cursor') ?? '';
  const project = useLoad((signal) => get<Project>(`/api/v1/projects/${enc(name)}`, signal), [name]);
  const builds = useLoad((signal) => get<Page<Build>>(`/api/v1/projects/${enc(name)}/builds${q({ limit: 25, ref, status, cursor })}`, signal), [name, ref, status, cursor]);
  useEvents((e) => e.type.startsWith('build.') && (project.data === null || e.projectId === project.data.id), builds.reload, 300);
  const [refInput, setRefInput] = useState(ref);
  const filter = (changes: Record<string, string>) => navigate(`/projects/${enc(name)}${q({ ref, status, ...changes })}`, { replace: true });
  return (
    <main id="main" class="page">
      <nav class="crumbs" aria-label="Breadcrumb">
        <a href="/">Dashboard</a> / <span aria-current="page">{name}</span>
      </nav>
      <h1>{name}</h1>
      <ErrorBox error={project.error} />
      {project.data === null ? null : (
        <p class="muted">
          <code>{project.data.repositoryUrl}</code> · default branch <code>{project.data.defaultBranch}</code> · pipeline <code>{project.data.pipelinePath}</code>
        </p>
      )}
      {project.data === null ? null : (
        <Card title="Start a build" id="trigger-title">
          <TriggerForm project={project.data} />
        </Card>
      )}
      <Card title="Builds" id="builds-title">
        <form
          class="filters"
          aria-label="Filter builds"
          onSubmit={(e) => {
            e.preventDefault();
            filter({ ref: refInput.trim() });
          }}
        >
          <div class="field">
            <label for="filter-ref">Branch</label>
            <input id="filter-ref" value={refInput} onInput={(e) => setRefInput(e.currentTarget.value)} placeholder="any" />
          </div>
          <div class="field">
            <label for="filter-status">Status</label>
            <select id="filter-status" value={status} onChange={(e) => filter({ status: e.currentTarget.value })}>
              <option value="">any</option>
              {STATUSES.map((s) => (
                <option key={s} value={s}>
                  {s}
                </option>
              ))}
            </select>
          </div>
          <button type="submit">Filter</button>
        </form>
        <ErrorBox error={builds.error} />
        {builds.data === null ? (
          <Loading what="builds" />
        ) : builds.data.items.length === 0 ? (
          <Empty>{ref !== '' || status !== '' ? 'No build matches these filters.' : 'No builds yet: start one above.'}</Empty>
        ) : (
          <BuildsTable builds={builds.data.items} showProject={false} now={now} />
        )}
        {builds.data?.nextCursor ? (
          <p>
            <a href={`/projects/${enc(name)}${q({ ref, status, cursor: builds.data.nextCursor })}`}>Older builds →</a>
          </p>
        ) : null}
      </Card>
    </main>
  );
}
