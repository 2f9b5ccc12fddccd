import type { ComponentChildren, JSX } from 'preact';

/** A header cell: its text, or its content with a class (.num, .hide-narrow); null leaves the column out. */
export type Column = string | { label: ComponentChildren; class?: string } | null;

/** Header cells of one class: classed('num', 'Busy', 'Idle'). */
export function classed(className: string, ...labels: string[]): Column[] {
  return labels.map((label) => ({ label, class: className }));
}

/** A table that scrolls sideways on a narrow window rather than squeezing its columns. */
export function Table({ class: className, columns, children }: { class?: string; columns: Column[]; children: ComponentChildren }): JSX.Element {
  return (
    <div class="table-wrap">
      <table class={className}>
        <thead>
          <tr>
            {columns
              .filter((column) => column !== null)
              .map((column, i) =>
                typeof column === 'string' ? (
                  <th key={i} scope="col">
                    {column}
                  </th>
                ) : (
                  <th key={i} scope="col" class={column.class}>
                    {column.label}
                  </th>
                ),
              )}
          </tr>
        </thead>
        <tbody>{children}</tbody>
      </table>
    </div>
  );
}
