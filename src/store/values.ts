import { SlipwayError } from '../errors/index.js';

/**
 * JSON lives in text columns on both databases, so SQLite and PostgreSQL return the same
 * thing; the store serializes on the way in and parses on the way out.
 */
export function toJson(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new SlipwayError('INTERNAL', `cannot store ${typeof value} as JSON`);
  return text;
}

export function fromJson<T>(text: string, column: string): T {
  try {
    return JSON.parse(text) as T;
  } catch (error) {
    throw new SlipwayError('INTERNAL', `the database holds invalid JSON in ${column}; the row was written by something other than the store`, { cause: error });
  }
}

export function fromJsonOrNull<T>(text: string | null, column: string): T | null {
  return text === null ? null : fromJson<T>(text, column);
}

/** Booleans are integers 0/1 on both databases. */
export function toFlag(value: boolean): number {
  return value ? 1 : 0;
}

export function fromFlag(value: number): boolean {
  return value !== 0;
}
