import { SlipwayError } from '../errors/index.js';

type Violation = 'unique' | 'foreign_key';

/** Which integrity constraint a database error reports, on either database. */
function violationOf(error: unknown): Violation | null {
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  switch (code) {
    case '23505': // PostgreSQL unique_violation
    case 'SQLITE_CONSTRAINT_UNIQUE':
    case 'SQLITE_CONSTRAINT_PRIMARYKEY':
      return 'unique';
    case '23503': // PostgreSQL foreign_key_violation
    case 'SQLITE_CONSTRAINT_FOREIGNKEY':
      return 'foreign_key';
    default:
      return null;
  }
}

/**
 * Runs a write and turns the constraint violations it expects into SlipwayErrors with a
 * message a user can act on: unique → CONFLICT, foreign key → NOT_FOUND (the row it refers
 * to is gone). Every other error passes through unchanged.
 */
export async function expectingViolations<T>(
  run: () => Promise<T>,
  messages: { unique?: string; foreignKey?: string },
): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const violation = violationOf(error);
    if (violation === 'unique' && messages.unique !== undefined) {
      throw new SlipwayError('CONFLICT', messages.unique, { cause: error });
    }
    if (violation === 'foreign_key' && messages.foreignKey !== undefined) {
      throw new SlipwayError('NOT_FOUND', messages.foreignKey, { cause: error });
    }
    throw error;
  }
}
