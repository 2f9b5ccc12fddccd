import type { JSX } from 'preact';
import { enc, get } from '../api/client.js';
import type { Page, Project } from '../api/types.js';
import { Card, Empty, ErrorBox, Loading } from '../components/common.js';
import { ago } from '../format.js';
import { useLoad, useTitle } from '../hooks.js';

export function ProjectsPage(): JSX.Element {
  useTitle('Projects');
  const projects = useLoad((signal) => get<Page<Project>>('/api/v1/projects?limit=500', signal), []);
  return (
    <main id="main" class="page">
      <h1>Projects</h1>
      <Card title="All projects" id="all-projects" actions={<a href="/settings?tab=projects">New project</a>}>
        <ErrorBox error={projects.error} />
        {projects.data === null ? (
          <Loading what="projects" />
        ) : projects.data.items.length === 0 ? (
          <Empty>
            No projects yet: <a href="/settings?tab=projects">create one</a>.
          </Empty>
        ) : (
          <ul class="project-list">
            {projects.data.items.map((p) => (
              <li key={p.id}>
                <a href={`/projects/${enc(p.name)}`} class="project-name">
                  {p.name}
                </a>
                <code class="muted">{p.repositoryUrl}</code>
                <span class="muted small">updated {ago(p.updatedAt)}</span>
              </li>
            ))}
          </ul>
        )}
      </Card>
    </main>
  );
}
