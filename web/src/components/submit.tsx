import type { ComponentChildren, JSX } from 'preact';
import type { Submit } from '../hooks.js';

/** A form of fields in a row that runs action through submit (see useSubmit) instead of leaving the page. */
export function SubmitForm({ submit, action, children }: { submit: Submit; action(): Promise<void>; children: ComponentChildren }): JSX.Element {
  return (
    <form
      class="grid-form"
      onSubmit={(e) => {
        e.preventDefault();
        void submit.run(action);
      }}
    >
      {children}
    </form>
  );
}

/** A red button that asks first, then runs its call through submit (whose error the page shows). */
export function DangerButton({ label, question, submit, action }: { label: string; question: string; submit: Submit; action(): Promise<void> }): JSX.Element {
  return (
    <button
      type="button"
      class="danger"
      onClick={() => {
        if (window.confirm(question)) void submit.run(action);
      }}
    >
      {label}
    </button>
  );
}
