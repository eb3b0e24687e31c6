/**
 * Login throttling shared through the database: two stores on one server stand for two machines.
 * Failures counted on either lock the name on both, and a process started later remembers it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { SharedLoginThrottle, openStore, type Store } from '../../src/store/index.js';
import { testDatabases, type FreshDatabase } from './databases.js';

const opened: Array<{ store: Store; shared: SharedLoginThrottle }> = [];
const fresh: FreshDatabase[] = [];
afterEach(async () => {
  for (const { store, shared } of opened.splice(0)) {
    await shared.close();
    await store.close();
  }
  await Promise.all(fresh.splice(0).map((d) => d.drop()));
});

async function machine(database: FreshDatabase): Promise<Store> {
  const store = await openStore({ dataDir: database.dataDir, url: database.url });
  const shared = await SharedLoginThrottle.start(store);
  opened.push({ store, shared });
  return store;
}

for (const database of testDatabases.filter((d) => d.dialect !== 'sqlite')) {
  describe.skipIf(!database.available)(`login throttling shared through ${database.label}`, () => {
    it('failures on two machines add up to one lock-out, seen by both and by a machine that starts later', async () => {
      const db = await database.fresh();
      fresh.push(db);
      const a = await machine(db);
      const b = await machine(db);
      await a.accounts.add('alice', 'right password');
      // Five failures of one name from one address lock that pair (LOGIN_THROTTLE_DEFAULTS): three here, two there.
      for (const store of [a, a, a, b]) expect(await store.accounts.verify('alice', 'wrong', '10.0.0.7')).toMatchObject({ ok: false, reason: 'bad-credentials' });
      const fifth = await b.accounts.verify('alice', 'wrong', '10.0.0.7');
      expect(fifth).toMatchObject({ ok: false, reason: 'bad-credentials' });
      expect(fifth.ok === false && fifth.retryAfterMs).toBeGreaterThan(0);
      for (const store of [a, b]) expect(await store.accounts.verify('alice', 'right password', '10.0.0.7')).toMatchObject({ ok: false, reason: 'throttled' });
      // Elsewhere, the real user still gets in.
      expect(await a.accounts.verify('alice', 'right password', '10.0.0.8')).toMatchObject({ ok: true });
      const later = await machine(db);
      expect(await later.accounts.verify('alice', 'right password', '10.0.0.7')).toMatchObject({ ok: false, reason: 'throttled' });
    });

    it('without sharing, each machine would have counted alone (the control)', async () => {
      const db = await database.fresh();
      fresh.push(db);
      const a = await openStore({ dataDir: db.dataDir, url: db.url });
      const b = await openStore({ dataDir: db.dataDir, url: db.url });
      try {
        await a.accounts.add('bob', 'right password');
        for (const store of [a, a, a, b, b]) await store.accounts.verify('bob', 'wrong', '10.0.0.7');
        expect(await b.accounts.verify('bob', 'right password', '10.0.0.7')).toMatchObject({ ok: true });
      } finally {
        await a.close();
        await b.close();
      }
    });
  });
}
