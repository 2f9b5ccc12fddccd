import type { JSX } from 'preact';

const ICONS: Record<string, string> = {
  success: '✓',
  failed: '✕',
  error: '!',
  canceled: '⊘',
  skipped: '»',
  running: '●',
  pending: '◷',
  created: '○',
  manual: '▶',
  scheduled: '◷',
};

/** A status as a word with an icon and a colour: never colour alone. */
export function Status({ status, allowed = false }: { status: string; allowed?: boolean }): JSX.Element {
  const label = allowed && status === 'failed' ? 'failed (allowed)' : status;
  return (
    <span class={`status status-${allowed && status === 'failed' ? 'warning' : status}`} data-status={status}>
      <span class="status-icon" aria-hidden="true">
        {ICONS[status] ?? '·'}
      </span>
      {label}
    </span>
  );
}
