import { sql, type Kysely } from 'kysely';
import { MAX_NAME_KEY_LENGTH, accountNameKey } from '../account-names.js';
import type { StoreMigration } from './index.js';

interface AccountRow {
  id: number | string;
  name: string;
}

/**
 * `accounts.name_key`: the name folded by `accountNameKey` (NFKC, case), under a unique index, so
 * that `alice`, `Alice` and `ａｌｉｃｅ` are one name on every dialect and under any concurrency
 * (the database, not a check before the insert, refuses the second). (Not `accounts_name_key`:
 * PostgreSQL already gave that name to the unique constraint on `name`.)
 *
 * A database may already hold names that fold together (`alice` and `Alice`, allowed before). The
 * oldest of them (lowest id) gets the key; the others keep a null key (a unique index allows many
 * nulls on all three dialects): they still log in by their exact name, nobody can register any
 * other variant, and `openStore` names them in a warning so an administrator can rename or remove
 * them. Refusing to migrate instead would lock the administrator out of the tool that fixes it.
 */
export const accountNameKeysMigration: StoreMigration = {
  async up(db: Kysely<unknown>, dialect) {
    const keyType = dialect === 'mysql' ? sql`varchar(${sql.raw(String(MAX_NAME_KEY_LENGTH))}) character set utf8mb4 collate utf8mb4_bin` : sql`varchar(${sql.raw(String(MAX_NAME_KEY_LENGTH))})`;
    await db.schema.alterTable('accounts').addColumn('name_key', keyType).execute();
    const accounts = db as Kysely<{ accounts: AccountRow & { name_key: string | null } }>;
    const rows = await accounts.selectFrom('accounts').select(['id', 'name']).orderBy('id').execute();
    const claimed = new Set<string>();
    for (const row of rows) {
      const key = accountNameKey(row.name);
      if (claimed.has(key) || [...key].length > MAX_NAME_KEY_LENGTH) continue;
      claimed.add(key);
      await accounts.updateTable('accounts').set({ name_key: key }).where('id', '=', row.id).execute();
    }
    await db.schema.createIndex('accounts_name_key_unique').on('accounts').column('name_key').unique().execute();
  },
  async down(db: Kysely<unknown>, dialect) {
    const drop = db.schema.dropIndex('accounts_name_key_unique');
    await (dialect === 'mysql' ? drop.on('accounts') : drop).execute();
    await db.schema.alterTable('accounts').dropColumn('name_key').execute();
  },
};
