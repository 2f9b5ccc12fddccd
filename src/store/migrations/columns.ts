import type { ColumnDefinitionBuilder } from 'kysely';
import type { DialectName } from '../context.js';

/**
 * The column types a migration needs, per database. Migrations are written once against
 * these names so they read the same and mean the same on SQLite and PostgreSQL.
 */
export function columnTypes(dialect: DialectName) {
  return {
    /** Row ids: SQLite's `integer primary key autoincrement` never reuses an id, even after a delete. */
    id: dialect === 'sqlite' ? ('integer' as const) : ('bigint' as const),
    idKey: (column: ColumnDefinitionBuilder) =>
      dialect === 'sqlite' ? column.primaryKey().autoIncrement() : column.primaryKey().generatedByDefaultAsIdentity(),
    /** A column that holds another table's id. */
    reference: 'bigint' as const,
    /** Milliseconds since the epoch (int8 on PostgreSQL, parsed back into a JS number). */
    time: 'bigint' as const,
    /** Byte counts, which outgrow 32 bits. */
    bytes: 'bigint' as const,
    /** JSON as text: parsed and serialized by the store, so both databases behave the same. */
    json: 'text' as const,
    /** Booleans as 0/1. */
    flag: 'integer' as const,
    /** Fractional CPUs. */
    real: 'double precision' as const,
  };
}
