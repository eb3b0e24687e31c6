import { sql, type ColumnType, type Generated, type Kysely } from 'kysely';
import type { StoreMigration } from './index.js';
import { byteExactText, byteExactVarchar, withIdColumn } from './columns.js';

/** A BIGINT as the drivers return it (a number, or a string from pg). */
type BigIntRead = ColumnType<number | string | bigint, number, number>;

/**
 * `diary_entries`: every entry of every diary (the network diary, seed 003). `diary` is '' for
 * the public diary (what seed clients write to) and an account name for that account's diary.
 * Entries from wharf's own client carry (client_id, seq); the unique index on that pair is what
 * stores each of them once, whatever the network duplicates.
 */
export interface DiaryEntriesTable {
  id: Generated<number>;
  diary: string;
  created_at: BigIntRead;
  text: string;
  /** The author's account, when logged in. */
  account: string | null;
  /** The author's address, `ip:port` (null for imported entries). */
  address: string | null;
  client_id: string | null;
  seq: BigIntRead | null;
}

/**
 * `diary_clients`: the highest sequence number stored (or refused) per client of wharf's own
 * protocol. It outlives `clear`, so an entry resent after its diary was cleared is not stored again.
 */
export interface DiaryClientsTable {
  client_id: string;
  last_seq: BigIntRead;
  updated_at: BigIntRead;
}

/** `diary_sessions`: login sessions of wharf's own protocol; the token is kept only as its SHA-256. */
export interface DiarySessionsTable {
  token_hash: string;
  account: string;
  created_at: BigIntRead;
  expires_at: BigIntRead;
}

/** `diary_clears`: who emptied which diary when; a clear's request id makes a resent clear a no-op. */
export interface DiaryClearsTable {
  request_id: string;
  diary: string;
  cleared_at: BigIntRead;
  account: string | null;
  address: string | null;
  removed: BigIntRead;
}

/** The diary's tables, for `Kysely<DiarySchema>`. */
export interface DiarySchema {
  diary_entries: DiaryEntriesTable;
  diary_clients: DiaryClientsTable;
  diary_sessions: DiarySessionsTable;
  diary_clears: DiaryClearsTable;
}

/** The network diary's tables (issue: "Network diary: the seed's UDP diary, with nothing lost"). */
export const diaryMigration: StoreMigration = {
  async up(db: Kysely<unknown>, dialect) {
    // Names compare byte for byte on MySQL too, as account names do (0001_accounts).
    const nameType = byteExactVarchar(dialect);
    const idType = dialect === 'mysql' ? sql`varchar(64) character set ascii collate ascii_bin` : sql`varchar(64)`;
    // MySQL's TEXT holds 65,535 bytes: more than an entry may be (at most 8 KiB).
    const textType = byteExactText(dialect);
    const mysqlEnd = <T extends { modifyEnd(modifier: ReturnType<typeof sql>): T }>(table: T): T =>
      dialect === 'mysql' ? table.modifyEnd(sql`engine=InnoDB default charset=utf8mb4`) : table;

    let entries = db.schema.createTable('diary_entries');
    entries = withIdColumn(entries, dialect);
    entries = entries
      .addColumn('diary', nameType, (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('text', textType, (column) => column.notNull())
      .addColumn('account', nameType)
      .addColumn('address', 'varchar(64)')
      .addColumn('client_id', idType)
      .addColumn('seq', 'bigint');
    await mysqlEnd(entries).execute();
    // Each entry of wharf's client once (NULLs, the seed's entries, never collide).
    await db.schema.createIndex('diary_entries_client_seq').on('diary_entries').columns(['client_id', 'seq']).unique().execute();
    await db.schema.createIndex('diary_entries_diary_id').on('diary_entries').columns(['diary', 'id']).execute();
    await db.schema.createIndex('diary_entries_diary_time').on('diary_entries').columns(['diary', 'created_at']).execute();

    await mysqlEnd(
      db.schema
        .createTable('diary_clients')
        .addColumn('client_id', idType, (column) => column.primaryKey())
        .addColumn('last_seq', 'bigint', (column) => column.notNull())
        .addColumn('updated_at', 'bigint', (column) => column.notNull()),
    ).execute();
    await db.schema.createIndex('diary_clients_updated').on('diary_clients').column('updated_at').execute();

    await mysqlEnd(
      db.schema
        .createTable('diary_sessions')
        .addColumn('token_hash', idType, (column) => column.primaryKey())
        .addColumn('account', nameType, (column) => column.notNull())
        .addColumn('created_at', 'bigint', (column) => column.notNull())
        .addColumn('expires_at', 'bigint', (column) => column.notNull()),
    ).execute();
    await db.schema.createIndex('diary_sessions_account').on('diary_sessions').columns(['account', 'created_at']).execute();

    await mysqlEnd(
      db.schema
        .createTable('diary_clears')
        .addColumn('request_id', idType, (column) => column.primaryKey())
        .addColumn('diary', nameType, (column) => column.notNull())
        .addColumn('cleared_at', 'bigint', (column) => column.notNull())
        .addColumn('account', nameType)
        .addColumn('address', 'varchar(64)')
        .addColumn('removed', 'bigint', (column) => column.notNull()),
    ).execute();
    await db.schema.createIndex('diary_clears_time').on('diary_clears').column('cleared_at').execute();
  },
  async down(db: Kysely<unknown>) {
    for (const table of ['diary_clears', 'diary_sessions', 'diary_clients', 'diary_entries']) await db.schema.dropTable(table).execute();
  },
};
