import type { z } from 'zod';

/**
 * Zod issues as lines a person can act on: `path: what to change`. Used for the
 * configuration and for request validation, so both read the same way.
 */
export function describeIssues(issues: readonly z.core.$ZodIssue[], prefix = ''): string[] {
  return issues.flatMap((issue) => {
    const at = [prefix, ...issue.path.map(String)].filter((part) => part !== '').join('.');
    if (issue.code === 'unrecognized_keys') {
      return issue.keys.map((key) => `${at === '' ? key : `${at}.${key}`}: unknown field, remove it or check its spelling`);
    }
    return [`${at === '' ? '(top level)' : at}: ${issue.message}`];
  });
}
