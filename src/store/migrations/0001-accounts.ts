import { sql, type Kysely } from 'kysely';
import type { StoreMigration } from './index.js';
import { byteExactVarchar, withIdColumn } from './columns.js';

/** Accounts: the one user base every service shares (issue 3). */
export const accountsMigration: StoreMigration = {
  async up(db: Kysely<unknown>, dialect) {
    // A name is compared byte for byte: MySQL's default collations would fold case and accents,
    // so `Alice` and `alice` would collide there and not on SQLite or PostgreSQL.
    const nameType = byteExactVarchar(dialect);
    let table = db.schema.createTable('accounts');
    table = withIdColumn(table, dialect);
    table = table
      .addColumn('name', nameType, (column) => column.notNull().unique())
      .addColumn('password_hash', 'varchar(255)', (column) => column.notNull())
      .addColumn('role', 'varchar(16)', (column) => column.notNull().defaultTo('user').check(sql`role in ('user', 'admin')`))
      .addColumn('disabled', 'smallint', (column) => column.notNull().defaultTo(0))
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('quota_bytes', 'bigint', (column) => column.notNull().check(sql`quota_bytes >= 0`))
      .addColumn('bytes_used', 'bigint', (column) => column.notNull().defaultTo(0).check(sql`bytes_used >= 0`));
    if (dialect === 'mysql') table = table.modifyEnd(sql`engine=InnoDB default charset=utf8mb4`);
    await table.execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('accounts').execute();
  },
};
