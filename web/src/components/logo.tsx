import type { JSX } from 'preact';

/** A hull on a slipway; drawn inline, so no font or request is needed for it. */
export function Logo(): JSX.Element {
  return (
    <svg class="logo" width="22" height="22" viewBox="0 0 32 32" aria-hidden="true" focusable="false">
      <rect width="32" height="32" rx="7" fill="#0a58ca" />
      <path d="M6 20h20l-4 5H10z" fill="#fff" />
      <path d="M16 5v13M16 6l7 10h-7z" stroke="#fff" stroke-width="2" stroke-linejoin="round" fill="#fff" />
    </svg>
  );
}
