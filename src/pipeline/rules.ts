/**
 * Evaluates `rules:` and `workflow: rules:` entries against a PlanContext. Within one rule
 * every condition given must hold (`if`, `changes`, `exists`); a rule without conditions
 * matches. The first matching rule decides.
 */
import picomatch from 'picomatch';
import type { RuleDefinition } from './definition.js';
import { evaluateExpression } from './expressions.js';

export type RuleContext = {
  variables: Readonly<Record<string, string>>;
  changedPaths: readonly string[] | null;
  existingPaths: readonly string[] | null;
};

export function firstMatchingRule(rules: readonly RuleDefinition[], ctx: RuleContext, globs: GlobCache): RuleDefinition | null {
  return rules.find((rule) => ruleMatches(rule, ctx, globs)) ?? null;
}

function ruleMatches(rule: RuleDefinition, ctx: RuleContext, globs: GlobCache): boolean {
  if (rule.if !== null && !evaluateExpression(rule.if, ctx.variables)) return false;
  // Unknown file lists (a new branch, a manual run) match, as in GitLab.
  if (rule.changes !== null && ctx.changedPaths !== null && !globs.anyMatch(rule.changes, ctx.changedPaths, ctx.variables)) return false;
  if (rule.exists !== null && ctx.existingPaths !== null && !globs.anyMatch(rule.exists, ctx.existingPaths, ctx.variables)) return false;
  return true;
}

/** Compiled globs, kept for one planning run (many jobs share the same `changes:`). */
export class GlobCache {
  private readonly matchers = new Map<string, (path: string) => boolean>();

  anyMatch(patterns: readonly string[], paths: readonly string[], variables: Readonly<Record<string, string>>): boolean {
    const expanded = patterns.map((pattern) => normalize(expandVariables(pattern, variables)));
    const key = expanded.join('\0');
    let matcher = this.matchers.get(key);
    if (matcher === undefined) {
      matcher = picomatch(expanded, { dot: true });
      this.matchers.set(key, matcher);
    }
    const matches = matcher;
    return paths.some((path) => matches(normalize(path)));
  }
}

/** `$VAR` and `${VAR}` in a path pattern, as GitLab expands them in `changes:`. */
function expandVariables(pattern: string, variables: Readonly<Record<string, string>>): string {
  return pattern.replace(/\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)/g, (_, braced: string | undefined, bare: string | undefined) => {
    const name = braced ?? bare ?? '';
    return Object.hasOwn(variables, name) ? (variables[name] ?? '') : '';
  });
}

function normalize(path: string): string {
  return path.replace(/^\.\//, '');
}
