import { sql, type Kysely } from 'kysely';
import type { StoreMigration } from './index.js';

/**
 * `portal_sessions`: who is signed in to the browser portal (issue #19, src/store/portal-sessions.ts).
 * The cookie's token is kept only as its SHA-256, so a copy of the database signs nobody in. A
 * session names its account by id (an account removed and made again is a new account) and keeps
 * the account's `password_changed_at` of its sign-in: a changed password ends it.
 */
export const portalSessionsMigration: StoreMigration = {
  async up(db: Kysely<unknown>, dialect) {
    // Hex and base64url tokens: ASCII, compared byte for byte.
    const tokenType = dialect === 'mysql' ? sql`varchar(64) character set ascii collate ascii_bin` : sql`varchar(64)`;
    let table = db.schema
      .createTable('portal_sessions')
      .addColumn('token_hash', tokenType, (column) => column.primaryKey())
      .addColumn('account_id', 'bigint', (column) => column.notNull())
      .addColumn('csrf_token', tokenType, (column) => column.notNull())
      .addColumn('password_changed_at', 'bigint', (column) => column.notNull())
      .addColumn('created_at', 'bigint', (column) => column.notNull())
      // Sliding: moved on as the session is used, never past created_at + the longest lifetime.
      .addColumn('expires_at', 'bigint', (column) => column.notNull());
    if (dialect === 'mysql') table = table.modifyEnd(sql`engine=InnoDB default charset=utf8mb4`);
    await table.execute();
    await db.schema.createIndex('portal_sessions_account').on('portal_sessions').column('account_id').execute();
    await db.schema.createIndex('portal_sessions_expires').on('portal_sessions').column('expires_at').execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('portal_sessions').execute();
  },
};
