/**
 * Evaluates `rules:` and `workflow: rules:` entries against a PlanContext. Within one rule
 * every condition given must hold (`if`, `changes`, `exists`); a rule without conditions
 * matches. The first matching rule decides.
 */
import picomatch from 'picomatch';
import type { RuleDefinition } from './definition.js';
import { VARIABLE_REFERENCE, evaluateExpression, variableValue } from './expressions.js';

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

/**
 * Answers of globs against one planning run's file lists, kept because many jobs (and
 * every copy of a matrix job) share the same `changes:`: each pattern list is matched
 * against a list of thousands of changed files once, not once per job.
 */
export class GlobCache {
  /** Per file list (changed or existing paths), whether each expanded pattern list matches. */
  private readonly answers = new Map<readonly string[], Map<string, boolean>>();

  anyMatch(patterns: readonly string[], paths: readonly string[], variables: Readonly<Record<string, string>>): boolean {
    const expanded = patterns.map((pattern) => normalize(expandVariables(pattern, variables)));
    const key = expanded.join('\0');
    let answers = this.answers.get(paths);
    if (answers === undefined) {
      answers = new Map();
      this.answers.set(paths, answers);
    }
    let answer = answers.get(key);
    if (answer === undefined) {
      const matches = picomatch(expanded, { dot: true });
      answer = paths.some((path) => matches(normalize(path)));
      answers.set(key, answer);
    }
    return answer;
  }
}

const references = new RegExp(VARIABLE_REFERENCE.source, 'g');

/** `$VAR` and `${VAR}` in a path pattern, as GitLab expands them in `changes:`. */
function expandVariables(pattern: string, variables: Readonly<Record<string, string>>): string {
  return pattern.replace(references, (_, braced: string | undefined, bare: string | undefined) => variableValue(variables, braced ?? bare ?? ''));
}

function normalize(path: string): string {
  return path.replace(/^\.\//, '');
}
