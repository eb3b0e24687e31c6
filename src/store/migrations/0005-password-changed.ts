import type { Kysely } from 'kysely';
import type { StoreMigration } from './index.js';

/**
 * `accounts.password_changed_at`: when the password was last set (milliseconds since the epoch;
 * 0 for accounts made before this migration). A login lock-out on a name that is older than the
 * password no longer applies: the administrator's `wharf user passwd`, run in another process,
 * thus unlocks the user in every running server (docs/accounts.md).
 */
export const passwordChangedMigration: StoreMigration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('accounts')
      .addColumn('password_changed_at', 'bigint', (column) => column.notNull().defaultTo(0))
      .execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.alterTable('accounts').dropColumn('password_changed_at').execute();
  },
};
