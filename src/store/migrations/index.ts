import type { Kysely, Migration } from 'kysely';
import { accountsMigration } from './0001-accounts.js';
import { diaryMigration } from './0002-diary.js';
import { dictionaryMigration } from './0003-dictionary.js';
import { chatMigration } from './0004-chat.js';
import { passwordChangedMigration } from './0005-password-changed.js';
import { accountNameKeysMigration } from './0006-account-name-keys.js';
import { execRunsMigration } from './0007-exec-runs.js';
import { loginThrottleEventsMigration } from './0008-login-throttle-events.js';
import { portalSessionsMigration } from './0009-portal-sessions.js';

export type StoreDialect = 'sqlite' | 'postgres' | 'mysql';

/** A migration that may write dialect-specific DDL (identity columns, collations, engines). */
export interface StoreMigration {
  up(db: Kysely<unknown>, dialect: StoreDialect): Promise<void>;
  down?(db: Kysely<unknown>, dialect: StoreDialect): Promise<void>;
}

/**
 * Every migration wharf knows, in order. To add one: write `NNNN-what.ts` beside this file and
 * append it here under the next number. Never rename or remove an entry that has shipped: a
 * database that ran it would then be refused as "newer than this wharf".
 */
export const storeMigrations: ReadonlyArray<readonly [name: string, migration: StoreMigration]> = [
  ['0001_accounts', accountsMigration],
  ['0002_diary', diaryMigration],
  ['0003_dictionary', dictionaryMigration],
  ['0004_chat', chatMigration],
  ['0005_password_changed', passwordChangedMigration],
  ['0006_account_name_keys', accountNameKeysMigration],
  ['0007_exec_runs', execRunsMigration],
  ['0008_login_throttle_events', loginThrottleEventsMigration],
  ['0009_portal_sessions', portalSessionsMigration],
];

/** The list in the shape Kysely's Migrator wants, each migration bound to the dialect. */
export function kyselyMigrations(dialect: StoreDialect): Record<string, Migration> {
  const result: Record<string, Migration> = {};
  for (const [name, migration] of storeMigrations) {
    const { up, down } = migration;
    result[name] = {
      up: (db) => up(db, dialect),
      ...(down ? { down: (db: Kysely<unknown>) => down(db, dialect) } : {}),
    };
  }
  return result;
}
