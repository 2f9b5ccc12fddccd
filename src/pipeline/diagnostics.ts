import { limits } from './limits.js';
import type { PipelineDiagnostic, SourcePosition } from './types.js';


/** `file:line:column: message`, the form editors and terminals turn into links. */
export function formatDiagnostic(d: PipelineDiagnostic): string {
  return `${d.file}:${d.line}:${d.column}: ${d.message}`;
}

/** A line and column (1-based) in the file being read. */
export type Position = { line: number; column: number };

/**
 * Collects the problems of one file. Checks add to it and carry on, so a user sees
 * every problem at once; `sorted()` orders them by position and drops repeats (a
 * template extended by two jobs is checked twice but reported once).
 */
export class DiagnosticList {
  readonly file: string;
  private readonly items: PipelineDiagnostic[] = [];

  constructor(file: string) {
    this.file = file;
  }

  add(position: Position, message: string): void {
    this.items.push({ file: this.file, line: Math.max(1, position.line), column: Math.max(1, position.column), message });
  }

  get count(): number {
    return this.items.length;
  }

  /** A position in this file, for values that keep one (`JobSpec.position`). */
  source(position: Position): SourcePosition {
    return { file: this.file, line: position.line, column: position.column };
  }

  sorted(): PipelineDiagnostic[] {
    const seen = new Set<string>();
    const unique = this.items
      .slice()
      .sort((a, b) => a.line - b.line || a.column - b.column || (a.message < b.message ? -1 : a.message > b.message ? 1 : 0))
      .filter((d) => {
        const key = `${d.line}:${d.column}:${d.message}`;
        if (seen.has(key)) return false;
        seen.add(key);
        return true;
      });
    if (unique.length <= limits.diagnostics) return unique;
    const shown = unique.slice(0, limits.diagnostics);
    const next = unique[limits.diagnostics] ?? { line: 1, column: 1 };
    shown.push({
      file: this.file,
      line: next.line,
      column: next.column,
      message: `${unique.length - limits.diagnostics} more problems not shown; fix the ones above first`,
    });
    return shown;
  }
}
