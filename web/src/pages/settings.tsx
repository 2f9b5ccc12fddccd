import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { api, enc, get } from '../api/client.js';
import type { Page, Project, Secret, Token } from '../api/types.js';
import { Card, Empty, ErrorBox, Loading } from '../components/common.js';
import { DangerButton, SubmitForm } from '../components/submit.js';
import { classed, Table } from '../components/table.js';
import { ago, exact } from '../format.js';
import { useLoad, useSubmit, useTitle } from '../hooks.js';
import type { Location } from '../router.js';

const TABS = [
  { id: 'projects', label: 'Projects' },
  { id: 'tokens', label: 'Tokens' },
  { id: 'secrets', label: 'Secrets' },
] as const;

const allProjects = (signal: AbortSignal) => get<Page<Project>>('/api/v1/projects?limit=500', signal);

function ProjectsTab(): JSX.Element {
  const projects = useLoad(allProjects, []);
  const [name, setName] = useState('');
  const [url, setUrl] = useState('');
  const [branch, setBranch] = useState('main');
  const form = useSubmit();
  const remove = useSubmit();
  return (
    <>
      <Card title="New project" id="new-project">
        <SubmitForm
          submit={form}
          action={async () => {
            await api('POST', '/api/v1/projects', { name: name.trim(), repositoryUrl: url.trim(), defaultBranch: branch.trim() || 'main' });
            setName('');
            setUrl('');
            projects.reload();
          }}
        >
          <div class="field">
            <label for="project-name">Name</label>
            <input id="project-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="web" />
          </div>
          <div class="field grow">
            <label for="project-url">Repository</label>
            <input id="project-url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} placeholder="git@github.com:team/web.git" />
          </div>
          <div class="field">
            <label for="project-branch">Default branch</label>
            <input id="project-branch" value={branch} onInput={(e) => setBranch(e.currentTarget.value)} />
          </div>
          <button type="submit" class="primary" disabled={form.busy}>
            Create project
          </button>
        </SubmitForm>
        <ErrorBox error={form.error} />
      </Card>
      <Card title="Projects" id="projects-list">
        <ErrorBox error={projects.error ?? remove.error} />
        {projects.data === null ? (
          <Loading what="projects" />
        ) : projects.data.items.length === 0 ? (
          <Empty>No projects yet.</Empty>
        ) : (
          <ul class="plain-list">
            {projects.data.items.map((p) => (
              <li key={p.id}>
                <a href={`/projects/${enc(p.name)}`}>{p.name}</a> <code class="muted">{p.repositoryUrl}</code>
                <span class="spacer" />
                <DangerButton
                  label="Delete"
                  question={`Delete project ${p.name} with its builds, secrets and schedules?`}
                  submit={remove}
                  action={async () => {
                    await api('DELETE', `/api/v1/projects/${enc(p.name)}`);
                    projects.reload();
                  }}
                />
              </li>
            ))}
          </ul>
        )}
      </Card>
    </>
  );
}

function TokensTab(): JSX.Element {
  const tokens = useLoad((signal) => get<Page<Token>>('/api/v1/tokens?limit=500', signal), []);
  const [name, setName] = useState('');
  const [scope, setScope] = useState('read');
  const [created, setCreated] = useState<string | null>(null);
  const form = useSubmit();
  const revoke = useSubmit();
  return (
    <>
      <Card title="New API token" id="new-token">
        <SubmitForm
          submit={form}
          action={async () => {
            const answer = await api<{ token: string }>('POST', '/api/v1/tokens', { name: name.trim(), scopes: [scope] });
            setCreated(answer.token);
            setName('');
            tokens.reload();
          }}
        >
          <div class="field grow">
            <label for="token-name">Name (who or what uses it)</label>
            <input id="token-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </div>
          <div class="field">
            <label for="token-scope">Scope</label>
            <select id="token-scope" value={scope} onChange={(e) => setScope(e.currentTarget.value)}>
              <option value="read">read</option>
              <option value="write">write</option>
              <option value="admin">admin</option>
            </select>
          </div>
          <button type="submit" class="primary" disabled={form.busy}>
            Create token
          </button>
        </SubmitForm>
        <ErrorBox error={form.error} />
        {created === null ? null : (
          <div class="notice" role="status">
            <p>Copy the token now: it is not shown again.</p>
            <code class="secret-once">{created}</code>
            <button type="button" onClick={() => setCreated(null)}>
              Done
            </button>
          </div>
        )}
      </Card>
      <Card title="API tokens" id="tokens-list">
        <ErrorBox error={tokens.error ?? revoke.error} />
        {tokens.data === null ? (
          <Loading what="tokens" />
        ) : (
          <Table columns={['Name', 'Scopes', ...classed('hide-narrow', 'Last used'), 'State', { label: <span class="visually-hidden">Actions</span> }]}>
            {tokens.data.items.map((t) => (
              <tr key={t.id}>
                <td>{t.name}</td>
                <td>{t.scopes.join(', ')}</td>
                <td class="hide-narrow" title={exact(t.lastUsedAt ?? null)}>
                  {ago(t.lastUsedAt ?? null)}
                </td>
                <td>{t.revokedAt !== null ? 'revoked' : t.expiresAt !== null && t.expiresAt < Date.now() ? 'expired' : 'active'}</td>
                <td>
                  {t.revokedAt === null ? (
                    <DangerButton
                      label="Revoke"
                      question={`Revoke token ${t.name}?`}
                      submit={revoke}
                      action={async () => {
                        await api('DELETE', `/api/v1/tokens/${t.id}`);
                        tokens.reload();
                      }}
                    />
                  ) : null}
                </td>
              </tr>
            ))}
          </Table>
        )}
      </Card>
    </>
  );
}

function SecretsTab(): JSX.Element {
  const projects = useLoad(allProjects, []);
  const [project, setProject] = useState('');
  const chosen = project || projects.data?.items[0]?.name || '';
  const secrets = useLoad((signal) => (chosen === '' ? Promise.resolve({ items: [] as Secret[] }) : get<{ items: Secret[] }>(`/api/v1/projects/${enc(chosen)}/secrets`, signal)), [chosen]);
  const [name, setName] = useState('');
  const [value, setValue] = useState('');
  const [saved, setSaved] = useState<string | null>(null);
  const form = useSubmit();
  const remove = useSubmit();
  if (projects.data !== null && projects.data.items.length === 0) return <Empty>Secrets belong to a project: create a project first.</Empty>;
  return (
    <Card title="Secrets" id="secrets-title">
      <p class="muted">A secret's value is encrypted on the server and never shown again after saving. Jobs get it as an environment variable, masked in logs.</p>
      <div class="field">
        <label for="secret-project">Project</label>
        <select id="secret-project" value={chosen} onChange={(e) => setProject(e.currentTarget.value)}>
          {(projects.data?.items ?? []).map((p) => (
            <option key={p.id} value={p.name}>
              {p.name}
            </option>
          ))}
        </select>
      </div>
      <SubmitForm
        submit={form}
        action={async () => {
          const secretName = name.trim();
          await api('PUT', `/api/v1/projects/${enc(chosen)}/secrets/${enc(secretName)}`, { value });
          // The value leaves the page as soon as the server has it.
          setValue('');
          setName('');
          setSaved(secretName);
          secrets.reload();
        }}
      >
        <div class="field">
          <label for="secret-name">Name</label>
          <input id="secret-name" required pattern="[A-Za-z_][A-Za-z0-9_]*" value={name} onInput={(e) => setName(e.currentTarget.value)} placeholder="DEPLOY_KEY" />
        </div>
        <div class="field grow">
          <label for="secret-value">Value</label>
          <input id="secret-value" type="password" autocomplete="off" required value={value} onInput={(e) => setValue(e.currentTarget.value)} />
        </div>
        <button type="submit" class="primary" disabled={form.busy || chosen === ''}>
          Save secret
        </button>
      </SubmitForm>
      <ErrorBox error={form.error ?? secrets.error ?? remove.error} />
      {saved === null ? null : (
        <p class="notice" role="status">
          Saved {saved}. Its value is not shown again.
        </p>
      )}
      {secrets.data === null ? (
        <Loading what="secrets" />
      ) : secrets.data.items.length === 0 ? (
        <Empty>No secrets in {chosen}.</Empty>
      ) : (
        <ul class="plain-list" aria-label={`Secrets of ${chosen}`}>
          {secrets.data.items.map((s) => (
            <li key={s.name}>
              <code>{s.name}</code> <span class="muted">••••••• · updated {ago(s.updatedAt)}</span>
              <span class="spacer" />
              <DangerButton
                label="Delete"
                question={`Delete secret ${s.name} of ${chosen}?`}
                submit={remove}
                action={async () => {
                  await api('DELETE', `/api/v1/projects/${enc(chosen)}/secrets/${enc(s.name)}`);
                  secrets.reload();
                }}
              />
            </li>
          ))}
        </ul>
      )}
    </Card>
  );
}

export function SettingsPage({ location }: { location: Location }): JSX.Element {
  useTitle('Settings');
  const tab = location.query.get('tab') ?? 'projects';
  return (
    <main id="main" class="page">
      <h1>Settings</h1>
      <nav class="tabs" aria-label="Settings">
        {TABS.map((t) => (
          <a key={t.id} href={`/settings?tab=${t.id}`} aria-current={tab === t.id ? 'page' : undefined}>
            {t.label}
          </a>
        ))}
      </nav>
      {tab === 'tokens' ? <TokensTab /> : tab === 'secrets' ? <SecretsTab /> : <ProjectsTab />}
    </main>
  );
}
