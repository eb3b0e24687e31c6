import { sql, type CreateTableBuilder, type RawBuilder } from 'kysely';
import type { StoreDialect } from './index.js';

/**
 * Column types every migration spells the same way on the three databases. Migrations that have
 * shipped must keep emitting the same DDL: change what these return only together with a new
 * migration.
 */

/** An auto-numbered primary key `id`: SQLite's integer, PostgreSQL's bigserial, MySQL's bigint. */
export function withIdColumn<Table extends string>(table: CreateTableBuilder<Table, never>, dialect: StoreDialect): CreateTableBuilder<Table, 'id'> {
  if (dialect === 'sqlite') return table.addColumn('id', 'integer', (column) => column.primaryKey().autoIncrement());
  if (dialect === 'postgres') return table.addColumn('id', 'bigserial', (column) => column.primaryKey());
  return table.addColumn('id', 'bigint', (column) => column.primaryKey().autoIncrement());
}

/**
 * A name compared byte for byte: MySQL's default collations would fold case and accents, so
 * `Alice` and `alice` would collide there and not on SQLite or PostgreSQL.
 */
export function byteExactVarchar(dialect: StoreDialect, length = 64): RawBuilder<unknown> {
  return dialect === 'mysql' ? sql`varchar(${sql.raw(String(length))}) character set utf8mb4 collate utf8mb4_bin` : sql`varchar(${sql.raw(String(length))})`;
}

/** Text of any length, byte for byte on MySQL too (TEXT holds 65,535 bytes there). */
export function byteExactText(dialect: StoreDialect): RawBuilder<unknown> {
  return dialect === 'mysql' ? sql`text character set utf8mb4 collate utf8mb4_bin` : sql`text`;
}
