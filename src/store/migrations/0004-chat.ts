import { sql, type Kysely } from 'kysely';
import type { StoreMigration } from './index.js';
import { byteExactText, byteExactVarchar, withIdColumn } from './columns.js';

/**
 * `chat_messages`: the history of every chat room (issue: "Chat room: the seed's UDP room, made
 * trustworthy"). Messages are numbered from 1 in each room; the unique (room, seq) index is both
 * the guarantee that a number is used once and the index every history read walks (newest first).
 * The service's row type is `ChatMessagesTable` in src/services/chat/history.ts.
 */
export const chatMigration: StoreMigration = {
  async up(db: Kysely<unknown>, dialect) {
    // Names compare byte for byte on MySQL too, as account names do (0001_accounts).
    const nameType = byteExactVarchar(dialect);
    const idType = byteExactVarchar(dialect);
    // A message is at most a few KiB (the service's maxTextBytes); MySQL's TEXT holds 65,535 bytes.
    const textType = byteExactText(dialect);
    let table = db.schema.createTable('chat_messages');
    table = withIdColumn(table, dialect);
    table = table
      .addColumn('room', nameType, (column) => column.notNull())
      .addColumn('seq', 'bigint', (column) => column.notNull())
      .addColumn('kind', 'varchar(16)', (column) => column.notNull())
      .addColumn('sender', nameType, (column) => column.notNull())
      .addColumn('text', textType, (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      .addColumn('client_id', idType);
    if (dialect === 'mysql') table = table.modifyEnd(sql`engine=InnoDB default charset=utf8mb4`);
    await table.execute();
    await db.schema.createIndex('chat_messages_room_seq').on('chat_messages').columns(['room', 'seq']).unique().execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('chat_messages').execute();
  },
};
