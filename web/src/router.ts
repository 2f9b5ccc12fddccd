import { useEffect, useState } from 'preact/hooks';

/** Where the app is: the path and the query; the hash belongs to the page (log lines). */
export type Location = { path: string; query: URLSearchParams };

const listeners = new Set<() => void>();

function current(): Location {
  return { path: window.location.pathname, query: new URLSearchParams(window.location.search) };
}

export function navigate(to: string, options: { replace?: boolean } = {}): void {
  if (options.replace === true) history.replaceState(null, '', to);
  else history.pushState(null, '', to);
  for (const listener of listeners) listener();
  if (!to.includes('#')) window.scrollTo(0, 0);
}

export function useLocation(): Location {
  const [location, setLocation] = useState(current);
  useEffect(() => {
    const update = () => setLocation(current());
    listeners.add(update);
    window.addEventListener('popstate', update);
    return () => {
      listeners.delete(update);
      window.removeEventListener('popstate', update);
    };
  }, []);
  return location;
}

/** Follows clicks on same-origin links without a reload (but not new-tab clicks or downloads). */
export function interceptLinks(): void {
  document.addEventListener('click', (event) => {
    if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey) return;
    const link = (event.target as Element | null)?.closest?.('a');
    if (link === null || link === undefined || link.target !== '' || link.hasAttribute('download')) return;
    const url = new URL(link.href, window.location.href);
    if (url.origin !== window.location.origin || url.pathname.startsWith('/api/')) return;
    if (url.pathname === window.location.pathname && url.search === window.location.search && url.hash !== '') return; // in-page anchor
    event.preventDefault();
    navigate(url.pathname + url.search + url.hash);
  });
}

export type Route<P> = { pattern: RegExp; keys: string[]; render: (params: Record<string, string>, location: Location) => P };

/** '/projects/:name/builds/:number' → a route whose render gets { name, number }. */
export function route<P>(path: string, render: (params: Record<string, string>, location: Location) => P): Route<P> {
  const keys: string[] = [];
  const source = path.replace(/:(\w+)/g, (_, key: string) => {
    keys.push(key);
    return '([^/]+)';
  });
  return { pattern: new RegExp(`^${source}/?$`), keys, render };
}

export function match<P>(routes: Route<P>[], location: Location): P | null {
  for (const candidate of routes) {
    const found = candidate.pattern.exec(location.path);
    if (found === null) continue;
    const params: Record<string, string> = {};
    candidate.keys.forEach((key, i) => (params[key] = decodeURIComponent(found[i + 1] ?? '')));
    return candidate.render(params, location);
  }
  return null;
}
