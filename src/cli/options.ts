import { SlipwayError } from '../errors/index.js';

/** Collects a repeatable option into a list. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `--var K=V` values as a record; a missing `=` says what to write instead. */
export function parseVars(values: string[]): Record<string, string> {
  const vars: Record<string, string> = {};
  for (const item of values) {
    const eq = item.indexOf('=');
    const key = eq < 0 ? '' : item.slice(0, eq);
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(key)) {
      throw new SlipwayError('USAGE', `--var ${item}: write it as NAME=value, with a name of letters, digits and _ (e.g. --var DEPLOY_ENV=staging).`);
    }
    vars[key] = item.slice(eq + 1);
  }
  return vars;
}

export function parsePositiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new SlipwayError('USAGE', `${name} ${value}: give a whole number of at least 1.`);
  return n;
}
