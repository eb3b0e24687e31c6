import { sql } from 'kysely';
import { pino } from 'pino';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../src/store/index.js';
import { accountNameKeysMigration } from '../../src/store/migrations/0006-account-name-keys.js';
import { testDatabases, type FreshDatabase } from './databases.js';

/**
 * Migration 0006 on a database made before it, which may hold names that differ only by case
 * (`alice` and `Alice` were two accounts then).
 */
for (const database of testDatabases) {
  describe.skipIf(!database.available)(`account name keys on ${database.label}`, () => {
    let fresh: FreshDatabase;
    const opened: Store[] = [];

    async function open(logged?: string[]): Promise<Store> {
      const logger = logged ? pino({ level: 'info' }, { write: (line: string) => void logged.push(line) }) : undefined;
      const store = await openStore({ dataDir: fresh.dataDir, url: fresh.url, ...(logger ? { logger } : {}) });
      opened.push(store);
      return store;
    }

    /** Put the database back to how wharf before 0006 left it, with these accounts in it. */
    async function legacyDatabase(names: string[]): Promise<void> {
      const store = await open();
      for (const name of names) await store.accounts.add(name.toLowerCase() === name ? name : `tmp${names.indexOf(name)}`, `${name}-pw`);
      await accountNameKeysMigration.down!(store.db as never, store.dialect);
      await sql`delete from wharf_migration where name = ${'0006_account_name_keys'}`.execute(store.db);
      // Names only a pre-0006 wharf could make: twins by case.
      for (const [index, name] of names.entries()) {
        if (name.toLowerCase() !== name) await sql`update accounts set name = ${name} where name = ${`tmp${index}`}`.execute(store.db);
      }
      await store.close();
    }

    beforeEach(async () => {
      fresh = await database.fresh();
    });

    afterEach(async () => {
      for (const store of opened.splice(0)) await store.close();
      await fresh.drop();
    });

    it('keeps twins that differ by case able to log in, refuses new ones, and names them in a warning', async () => {
      await legacyDatabase(['alice', 'Alice', 'bob']);
      const logged: string[] = [];
      const store = await open(logged);
      expect(store.migrations).toContain('0006_account_name_keys');
      expect((await store.accounts.list()).map((account) => account.name).sort()).toEqual(['Alice', 'alice', 'bob']);
      // Each logs in by its exact name with its own password; another spelling is the older one.
      expect(await store.accounts.verify('alice', 'alice-pw', '10.6.0.1')).toMatchObject({ ok: true, account: { name: 'alice' } });
      expect(await store.accounts.verify('Alice', 'Alice-pw', '10.6.0.1')).toMatchObject({ ok: true, account: { name: 'Alice' } });
      expect(await store.accounts.verify('ALICE', 'alice-pw', '10.6.0.1')).toMatchObject({ ok: true, account: { name: 'alice' } });
      // No third twin, and no twin of an account that had none.
      expect(await store.accounts.add('aLiCe', 'pw').catch((e: unknown) => e)).toMatchObject({ code: 'ETAKEN' });
      expect(await store.accounts.add('BOB', 'pw').catch((e: unknown) => e)).toMatchObject({ code: 'ETAKEN' });
      const warning = logged.map((line) => JSON.parse(line) as { level: number; accounts?: string[]; msg: string }).find((entry) => entry.accounts);
      expect(warning).toMatchObject({ level: 40, accounts: ['Alice'] });
      expect(warning?.msg).toContain('wharf user del');
      // The administrator removes the twin by its exact name; the older account stays.
      await store.accounts.remove('Alice');
      expect((await store.accounts.list()).map((account) => account.name).sort()).toEqual(['alice', 'bob']);
      expect(await store.accounts.verify('Alice', 'alice-pw', '10.6.0.2')).toMatchObject({ ok: true, account: { name: 'alice' } });
    });

    it('gives every account of a database without twins its key, and logs no warning', async () => {
      await legacyDatabase(['carol', 'dave']);
      const logged: string[] = [];
      const store = await open(logged);
      const rows = await store.db.selectFrom('accounts').select(['name', 'name_key']).orderBy('name').execute();
      expect(rows).toEqual([{ name: 'carol', name_key: 'carol' }, { name: 'dave', name_key: 'dave' }]);
      expect(logged.filter((line) => line.includes('"accounts"'))).toEqual([]);
    });
  });
}
