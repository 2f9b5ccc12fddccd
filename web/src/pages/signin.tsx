import type { JSX } from 'preact';
import { useState } from 'preact/hooks';
import { storeToken } from '../api/auth.js';
import { ApiError } from '../api/client.js';
import { whoAmI } from '../api/me.js';
import { Logo } from '../components/logo.js';
import { useSubmit } from '../hooks.js';

/** The token form: the token is checked against the server before it is kept. */
export function SignIn({ onSignedIn }: { onSignedIn(): void }): JSX.Element {
  const [token, setToken] = useState('');
  const [remember, setRemember] = useState(false);
  const { busy, error, run } = useSubmit();
  const submit = (event: Event) => {
    event.preventDefault();
    void run(async () => {
      await whoAmI(token.trim());
      storeToken(token.trim(), remember);
      onSignedIn();
    });
  };
  return (
    <main class="signin" id="main">
      <form class="card signin-card" onSubmit={submit} aria-labelledby="signin-title">
        <h1 id="signin-title">
          <Logo /> Sign in to Slipway
        </h1>
        <p class="muted">Paste an API token. The first start of a server prints an admin token; make others under Settings → Tokens.</p>
        <label for="token">API token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required value={token} onInput={(e) => setToken(e.currentTarget.value)} />
        <label class="check">
          <input type="checkbox" checked={remember} onChange={(e) => setRemember(e.currentTarget.checked)} /> Remember on this browser
        </label>
        {error === null ? null : (
          <p class="error-box" role="alert">
            {error instanceof ApiError && error.status === 401 ? 'The server does not know this token (or it was revoked or has expired).' : error.message}
          </p>
        )}
        <button type="submit" class="primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
