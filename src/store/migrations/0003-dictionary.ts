import { sql, type ColumnType, type Generated, type Kysely } from 'kysely';
import type { StoreMigration } from './index.js';
import { byteExactVarchar, withIdColumn } from './columns.js';

/**
 * `dict_history`: the dictionary's lookups by logged-in accounts (the seed's `hist(word,
 * user_id, time)`), newest found through (account, id). A row goes with its account: deleting
 * the account deletes its history.
 */
export interface DictHistoryTable {
  id: Generated<number>;
  /** accounts.name (NFC, compared byte for byte). */
  account: string;
  word: string;
  /** The database the DEFINE named (`wn`, `*`, `!`, ...). */
  database_name: string;
  /** Milliseconds since the epoch (UTC). */
  looked_up_at: ColumnType<number | string | bigint, number, never>;
}

export interface DictionarySchema {
  dict_history: DictHistoryTable;
}

export const dictionaryMigration: StoreMigration = {
  async up(db: Kysely<unknown>, dialect) {
    // The same type as accounts.name, so that the foreign key holds on MySQL too.
    const nameType = byteExactVarchar(dialect);
    let table = db.schema.createTable('dict_history');
    table = withIdColumn(table, dialect);
    table = table
      .addColumn('account', nameType, (column) => column.notNull().references('accounts.name').onDelete('cascade'))
      .addColumn('word', 'varchar(1024)', (column) => column.notNull())
      .addColumn('database_name', 'varchar(255)', (column) => column.notNull())
      .addColumn('looked_up_at', 'bigint', (column) => column.notNull());
    if (dialect === 'mysql') table = table.modifyEnd(sql`engine=InnoDB default charset=utf8mb4`);
    await table.execute();
    await db.schema.createIndex('dict_history_account_id').on('dict_history').columns(['account', 'id']).execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('dict_history').execute();
  },
};
