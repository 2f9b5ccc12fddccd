import type { ComponentChildren, JSX } from 'preact';
import { ApiError } from '../api/client.js';

export function ErrorBox({ error }: { error: Error | null }): JSX.Element | null {
  if (error === null) return null;
  return (
    <div class="error-box" role="alert">
      {error instanceof ApiError ? <strong>{error.code}: </strong> : null}
      {error.message}
    </div>
  );
}

export function Loading({ what }: { what: string }): JSX.Element {
  return (
    <p class="muted" role="status">
      Loading {what}…
    </p>
  );
}

export function Card({ title, children, actions, id }: { title: string; children: ComponentChildren; actions?: ComponentChildren; id?: string }): JSX.Element {
  return (
    <section class="card" aria-labelledby={id}>
      <header class="card-head">
        <h2 id={id}>{title}</h2>
        {actions === undefined ? null : <div class="card-actions">{actions}</div>}
      </header>
      {children}
    </section>
  );
}

export function Empty({ children }: { children: ComponentChildren }): JSX.Element {
  return <p class="empty">{children}</p>;
}

/** A page whose main record is not here yet: loading, or why it failed. */
export function Unloaded({ error, what }: { error: Error | null; what: string }): JSX.Element {
  return (
    <main id="main" class="page">
      <ErrorBox error={error} />
      {error === null ? <Loading what={what} /> : null}
    </main>
  );
}
