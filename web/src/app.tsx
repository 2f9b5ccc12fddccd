import type { JSX } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { forgetToken, storedToken } from './api/auth.js';
import { onSignedOut } from './api/client.js';
import { events } from './api/events.js';
import { Logo } from './components/logo.js';
import { AgentsPage } from './pages/agents.js';
import { BuildByNumber, BuildPage } from './pages/build.js';
import { Dashboard } from './pages/dashboard.js';
import { JobPage } from './pages/job.js';
import { ProjectPage } from './pages/project.js';
import { ProjectsPage } from './pages/projects.js';
import { SettingsPage } from './pages/settings.js';
import { SignIn } from './pages/signin.js';
import { match, route, useLocation, type Location } from './router.js';

const routes = [
  route('/', () => <Dashboard />),
  route('/projects', () => <ProjectsPage />),
  route('/projects/:name', (p, location) => <ProjectPage key={p.name} name={p.name ?? ''} location={location} />),
  route('/projects/:name/builds/:number', (p) => <BuildByNumber key={`${p.name}/${p.number}`} project={p.name ?? ''} number={Number(p.number)} />),
  route('/builds/:id', (p) => <BuildPage key={p.id} id={Number(p.id)} />),
  route('/jobs/:id', (p) => <JobPage key={p.id} id={Number(p.id)} />),
  route('/agents', () => <AgentsPage />),
  route('/settings', (_, location) => <SettingsPage location={location} />),
];

const NAV = [
  { href: '/', label: 'Dashboard', active: (path: string) => path === '/' },
  // Builds and jobs belong to projects.
  { href: '/projects', label: 'Projects', active: (path: string) => /^\/(projects|builds|jobs)(\/|$)/.test(path) },
  { href: '/agents', label: 'Agents', active: (path: string) => path.startsWith('/agents') },
  { href: '/settings', label: 'Settings', active: (path: string) => path.startsWith('/settings') },
];

function LiveIndicator(): JSX.Element {
  const [live, setLive] = useState(events.live);
  useEffect(() => events.onStatus(setLive), []);
  return (
    <span class={`live ${live ? 'on' : 'off'}`} role="status" title={live ? 'Live updates are on' : 'Reconnecting to live updates'}>
      <span aria-hidden="true">{live ? '●' : '○'}</span> {live ? 'Live' : 'Offline'}
    </span>
  );
}

function Shell({ location, onSignOut }: { location: Location; onSignOut(): void }): JSX.Element {
  const page = match(routes, location);
  return (
    <>
      <a href="#main" class="skip">
        Skip to content
      </a>
      <header class="topbar">
        <a href="/" class="brand">
          <Logo /> Slipway
        </a>
        <nav aria-label="Main" class="mainnav">
          {NAV.map((item) => (
            <a key={item.href} href={item.href} aria-current={item.active(location.path) ? 'page' : undefined}>
              {item.label}
            </a>
          ))}
        </nav>
        <span class="spacer" />
        <LiveIndicator />
        <button type="button" class="quiet" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      {page ?? (
        <main id="main" class="page">
          <h1>Not found</h1>
          <p>
            Nothing lives at <code>{location.path}</code>. <a href="/">Back to the dashboard</a>.
          </p>
        </main>
      )}
    </>
  );
}

export function App(): JSX.Element {
  const location = useLocation();
  const [signedIn, setSignedIn] = useState(storedToken() !== null);
  useEffect(
    () =>
      onSignedOut(() => {
        events.stop();
        setSignedIn(false);
      }),
    [],
  );
  if (!signedIn) return <SignIn onSignedIn={() => setSignedIn(true)} />;
  return (
    <Shell
      location={location}
      onSignOut={() => {
        forgetToken();
        events.stop();
        setSignedIn(false);
      }}
    />
  );
}
