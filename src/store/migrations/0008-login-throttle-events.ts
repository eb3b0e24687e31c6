import type { Kysely } from 'kysely';
import type { StoreMigration } from './index.js';
import { withIdColumn } from './columns.js';

/**
 * `login_throttle_events`: what each process serving these accounts counted (failed logins,
 * successes, forgotten names, self-registrations), so that processes on other machines that
 * share the database count them too (src/store/shared-login-throttle.ts). Rows older than the
 * longest lock-out are deleted as they go.
 */
export const loginThrottleEventsMigration: StoreMigration = {
  async up(db: Kysely<unknown>, dialect) {
    let table = db.schema.createTable('login_throttle_events');
    table = withIdColumn(table, dialect);
    await table
      .addColumn('at', 'bigint', (column) => column.notNull())
      // The process that wrote it (random per process): it does not read its own events back.
      .addColumn('origin', 'varchar(32)', (column) => column.notNull())
      // The event as JSON (names are throttle keys, which may hold characters a text column refuses).
      .addColumn('event', 'text', (column) => column.notNull())
      .execute();
    await db.schema.createIndex('login_throttle_events_at').on('login_throttle_events').column('at').execute();
  },
  async down(db: Kysely<unknown>) {
    await db.schema.dropTable('login_throttle_events').execute();
  },
};
