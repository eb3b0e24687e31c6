import { storeMigrations } from '../../src/store/migrations/index.js';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { WharfError } from '../../src/core/errors.js';
import { DEFAULT_QUOTA_BYTES, openStore, type OpenStoreOptions, type Store } from '../../src/store/index.js';
import { testDatabases, type FreshDatabase } from './databases.js';

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WharfError) return error.code;
    throw error;
  }
  return 'resolved';
}

for (const database of testDatabases) {
  describe.skipIf(!database.available)(`store on ${database.label}`, () => {
    let fresh: FreshDatabase;
    let store: Store;
    const opened: Store[] = [];

    async function open(extra: Partial<OpenStoreOptions> = {}): Promise<Store> {
      const s = await openStore({ dataDir: fresh.dataDir, url: fresh.url, ...extra });
      opened.push(s);
      return s;
    }

    beforeEach(async () => {
      fresh = await database.fresh();
      store = await open();
    });

    afterEach(async () => {
      for (const s of opened.splice(0)) await s.close();
      await fresh.drop();
    });

    it('opens with the right dialect and runs the migrations', () => {
      expect(store.dialect).toBe(database.dialect);
      expect(store.migrations).toEqual(storeMigrations.map(([name]) => name));
    });

    it('adds an account with the defaults and reads it back', async () => {
      const before = Date.now();
      const added = await store.accounts.add('alice', 'correct horse');
      expect(added).toMatchObject({ name: 'alice', role: 'user', disabled: false, quotaBytes: DEFAULT_QUOTA_BYTES, bytesUsed: 0 });
      const read = await store.accounts.get('alice');
      expect(read).toEqual(added);
      expect(read!.createdAt.getTime()).toBeGreaterThanOrEqual(before - 1);
      expect(await store.accounts.get('nobody')).toBeUndefined();
    });

    it('stores an scrypt hash with a per-user salt, never the password', async () => {
      await store.accounts.add('alice', 'same password');
      await store.accounts.add('bob', 'same password');
      const rows = await store.db.selectFrom('accounts').select(['name', 'password_hash']).orderBy('name').execute();
      const [alice, bob] = rows.map((row) => row.password_hash);
      expect(alice).toMatch(/^scrypt\$16384\$8\$1\$[A-Za-z0-9+/=]{24}\$[A-Za-z0-9+/=]{44}$/);
      expect(alice).not.toContain('same password');
      expect(alice).not.toBe(bob);
    });

    it('keeps roles, quotas, big numbers and Unicode names exactly', async () => {
      await store.accounts.add('boss', 'pw', { role: 'admin', quota: 5 * 1024 ** 4 });
      await store.accounts.add('Zoë', 'pw');
      await store.accounts.add('日本語の名前', 'pw');
      const list = await store.accounts.list();
      expect(list.map((account) => account.name).sort()).toEqual(['Zoë', 'boss', '日本語の名前'].sort());
      expect(list.find((account) => account.name === 'boss')).toMatchObject({ role: 'admin', quotaBytes: 5 * 1024 ** 4 });
      // A decomposed "ë" is the same account as the composed one, and the name is kept as typed.
      expect(await codeOf(store.accounts.add('Zoe\u0308', 'pw'))).toBe('ETAKEN');
      expect((await store.accounts.get('Zoe\u0308'))?.name).toBe('Zoë');
    });

    it('makes one name of every case and compatibility form (NFKC), with the database refusing the second', async () => {
      await store.accounts.add('alice', 'alice-pw');
      await store.accounts.add('Straße', 'pw');
      for (const twin of ['Alice', 'ALICE', 'ａｌｉｃｅ', 'ＡＬＩＣＥ']) {
        expect(await codeOf(store.accounts.add(twin, 'pw')), twin).toBe('ETAKEN');
        expect(await codeOf(store.accounts.register(twin, 'pw', '10.9.0.1')), twin).toBe('ETAKEN');
      }
      expect(await codeOf(store.accounts.add('STRASSE', 'pw'))).toBe('ETAKEN');
      expect((await store.accounts.list()).map((account) => account.name)).toEqual(['Straße', 'alice']);
      // Any spelling finds the account, logs in to it and administers it; the name stays as made.
      expect(await store.accounts.get('ALICE')).toMatchObject({ name: 'alice' });
      expect(await store.accounts.verify('ａｌｉｃｅ', 'alice-pw', '10.9.0.2')).toMatchObject({ ok: true, account: { name: 'alice' } });
      await store.accounts.setPassword('Alice', 'new-pw');
      expect(await store.accounts.verify('alice', 'new-pw', '10.9.0.2')).toMatchObject({ ok: true });
      // The database's unique index is what holds: a row inserted behind Accounts' back collides too.
      const direct = store.db.insertInto('accounts').values({ name: 'Straße2', name_key: 'alice', password_hash: 'x', role: 'user', disabled: 0, created_at: 0, quota_bytes: 0 }).execute();
      await expect(direct).rejects.toThrow();
      await store.accounts.remove('ALICE');
      expect(await store.accounts.list()).toHaveLength(1);
    });

    it('counts failed logins per name whatever its case, so changing case does not reset the lock-out', async () => {
      const s = await open({ accounts: { now: () => 3_000_000 } });
      await s.accounts.add('alice', 'right');
      const spellings = ['alice', 'Alice', 'ALICE', 'aLiCe', 'ａｌｉｃｅ'];
      for (const spelling of spellings) await s.accounts.verify(spelling, 'guess', '203.0.113.50');
      expect(await s.accounts.verify('alice', 'right', '203.0.113.50')).toMatchObject({ ok: false, reason: 'throttled' });
    });

    it('lets exactly one of many concurrent registrations of one name in different cases win', async () => {
      const other = await open();
      const spellings = ['carol', 'Carol', 'CAROL', 'cArOl', 'ｃａｒｏｌ', 'caroL', 'CaRoL', 'carOL'];
      const attempts = spellings.map((spelling, i) => (i % 2 === 0 ? store : other).accounts.register(spelling, `pw${i}`, `10.4.0.${i}`));
      const results = await Promise.allSettled(attempts);
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
      const lost = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
      expect(lost.map((result) => (result.reason as WharfError).code)).toEqual(Array(7).fill('ETAKEN'));
      expect(await store.accounts.list()).toHaveLength(1);
    });

    it('refuses reserved names in any case or form, on every path that creates an account', async () => {
      const reserved = ['root', 'admin', 'Administrator', 'ANONYMOUS', 'ftp', 'ｒｏｏｔ', 'guest', 'nobody', 'wharf', 'postmaster', '管理员'];
      for (const name of reserved) {
        const added = await store.accounts.add(name, 'pw', { role: 'admin' }).catch((e: unknown) => e);
        expect(added, name).toMatchObject({ code: 'EBADVALUE' });
        expect((added as Error).message).toContain('is reserved');
        // From one address: a refused name does not use up the address's registrations.
        expect(await codeOf(store.accounts.register(name, 'pw', '10.5.0.1')), name).toBe('EBADVALUE');
      }
      await store.accounts.register('rooted', 'pw', '10.5.0.1');
      expect(await store.accounts.list()).toHaveLength(1);
    });

    it('accepts 64-character names and refuses longer, spaced, control and slashed ones', async () => {
      const longest = 'ü'.repeat(64);
      await store.accounts.add(longest, 'pw');
      expect((await store.accounts.get(longest))?.name).toBe(longest);
      const refused = ['', 'ü'.repeat(65), 'a b', 'tab\there', 'nul\u0000', 'nb\u00a0sp', 'rtl\u202eoverride', 'a/b', 'a\\b', '..', 'lone\ud800'];
      // Lookalikes of a space or a separator, invisible and private-use characters, and names
      // that NFKC turns into a slash or a dot.
      refused.push('ideo\u3000space', 'line\u2028sep', 'zw\u200bsp', 'hangul\u3164filler', '\u115f', 'vs\ufe0f', 'pua\ue000', 'a\uff0fb', 'a\uff3cb', '\u2024', '\u2025', 'ﷺ');
      for (const bad of refused) {
        expect(await codeOf(store.accounts.add(bad, 'pw')), JSON.stringify(bad)).toBe('EBADVALUE');
      }
      expect(await codeOf(store.accounts.add('ok', ''))).toBe('EBADVALUE');
      expect(await codeOf(store.accounts.add('ok', 'x'.repeat(1025)))).toBe('EBADVALUE');
      expect(await codeOf(store.accounts.add('ok', 'pw', { quota: -1 }))).toBe('EBADVALUE');
    });

    it('refuses a second account of the same name with ETAKEN', async () => {
      await store.accounts.add('alice', 'pw');
      const error = await store.accounts.add('alice', 'other').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WharfError);
      expect(error).toMatchObject({ code: 'ETAKEN', message: 'the account name "alice" is taken' });
    });

    it('verifies passwords, answering alike for an unknown name and a wrong password', async () => {
      await store.accounts.add('alice', 'right');
      const good = await store.accounts.verify('alice', 'right', '10.0.0.1');
      expect(good).toMatchObject({ ok: true, account: { name: 'alice' } });
      const wrong = await store.accounts.verify('alice', 'wrong', '10.0.0.2');
      const unknown = await store.accounts.verify('mallory', 'wrong', '10.0.0.3');
      expect(wrong).toEqual({ ok: false, reason: 'bad-credentials', delayMs: 1000 });
      expect(unknown).toEqual(wrong);
      expect(await store.accounts.verify('', '', '10.0.0.4')).toEqual(wrong);
    });

    it('changes passwords, disables, re-enables, changes roles and removes accounts', async () => {
      await store.accounts.add('alice', 'old');
      await store.accounts.setPassword('alice', 'new');
      expect((await store.accounts.verify('alice', 'old', '10.0.0.1')).ok).toBe(false);
      expect((await store.accounts.verify('alice', 'new', '10.0.0.1')).ok).toBe(true);

      await store.accounts.setDisabled('alice', true);
      await store.accounts.setDisabled('alice', true); // same value again: still "found" on MySQL
      expect(await store.accounts.verify('alice', 'new', '10.0.0.1')).toEqual({ ok: false, reason: 'disabled', delayMs: 0 });
      // A disabled account with a wrong password looks like any wrong password.
      expect(await store.accounts.verify('alice', 'bad', '10.0.0.1')).toMatchObject({ reason: 'bad-credentials' });
      await store.accounts.setDisabled('alice', false);
      expect((await store.accounts.verify('alice', 'new', '10.0.0.1')).ok).toBe(true);

      await store.accounts.setRole('alice', 'admin');
      expect((await store.accounts.get('alice'))?.role).toBe('admin');

      await store.accounts.remove('alice');
      expect(await store.accounts.get('alice')).toBeUndefined();
      expect(await codeOf(store.accounts.remove('alice'))).toBe('ENOUSER');
      expect(await codeOf(store.accounts.setPassword('alice', 'x'))).toBe('ENOUSER');
      expect(await codeOf(store.accounts.setQuota('alice', 1))).toBe('ENOUSER');
      expect(await codeOf(store.accounts.setDisabled('alice', true))).toBe('ENOUSER');
    });

    it('lets exactly one of many concurrent registrations of one name win', async () => {
      const other = await open();
      const attempts = Array.from({ length: 8 }, (_, i) => (i % 2 === 0 ? store : other).accounts.register('bob', `pw${i}`, `10.1.0.${i}`));
      const results = await Promise.allSettled(attempts);
      const won = results.filter((result) => result.status === 'fulfilled');
      const lost = results.filter((result): result is PromiseRejectedResult => result.status === 'rejected');
      expect(won).toHaveLength(1);
      expect(lost.map((result) => (result.reason as WharfError).code)).toEqual(Array(7).fill('ETAKEN'));
      expect((await store.accounts.list()).map((account) => account.name)).toEqual(['bob']);
    });

    it('turns self-registration off with the switch and rate-limits it per address', async () => {
      const closed = await open({ accounts: { selfRegistration: false } });
      expect(await codeOf(closed.accounts.register('eve', 'pw', '10.2.0.1'))).toBe('EFORBIDDEN');

      let clock = 0;
      const limited = await open({ accounts: { registrationsPerIpPerHour: 3, now: () => clock } });
      for (let i = 0; i < 3; i++) await limited.accounts.register(`user${i}`, 'pw', '10.2.0.2');
      expect(await codeOf(limited.accounts.register('user3', 'pw', '10.2.0.2'))).toBe('ETHROTTLED');
      await limited.accounts.register('user3', 'pw', '10.2.0.3'); // another address is not affected
      clock += 20 * 60_000; // one registration comes back every 20 minutes
      await limited.accounts.register('user4', 'pw', '10.2.0.2');
      expect(await codeOf(limited.accounts.register('user5', 'pw', '10.2.0.2'))).toBe('ETHROTTLED');
    });

    it('shares the registration allowance and the login throttle between processes that apply each other\'s events', async () => {
      let clock = 5_000_000;
      const first = await open({ accounts: { registrationsPerIpPerHour: 3, now: () => clock } });
      const second = await open({ accounts: { registrationsPerIpPerHour: 3, now: () => clock } });
      first.accounts.share((event) => second.accounts.apply(event));
      second.accounts.share((event) => first.accounts.apply(event));
      await first.accounts.register('shared1', 'pw', '10.3.0.1');
      await second.accounts.register('shared2', 'pw', '10.3.0.1');
      await first.accounts.register('shared3', 'pw', '10.3.0.1');
      // Three between them: both refuse the fourth, as one process would.
      expect(await codeOf(second.accounts.register('shared4', 'pw', '10.3.0.1'))).toBe('ETHROTTLED');
      expect(await codeOf(first.accounts.register('shared4', 'pw', '10.3.0.1'))).toBe('ETHROTTLED');
      clock += 20 * 60_000;
      await second.accounts.register('shared4', 'pw', '10.3.0.1');
      expect(await codeOf(first.accounts.register('shared5', 'pw', '10.3.0.1'))).toBe('ETHROTTLED');

      // Failed logins: the delay grows across the two.
      expect(await first.accounts.verify('shared1', 'wrong', '10.3.0.9')).toMatchObject({ delayMs: 1000 });
      expect(await second.accounts.verify('shared1', 'wrong', '10.3.0.9')).toMatchObject({ delayMs: 2000 });
      expect(await first.accounts.verify('shared1', 'wrong', '10.3.0.9')).toMatchObject({ delayMs: 4000 });
    });

    it("lifts a name's lock-out when the password changes, even from another process, but never an address's", async () => {
      let clock = 2_000_000;
      const server = await open({ accounts: { now: () => clock } });
      const admin = await open({ accounts: { now: () => clock } }); // `wharf user passwd`, elsewhere
      await admin.accounts.add('alice', 'forgotten');
      for (let i = 0; i < 5; i++) await server.accounts.verify('alice', `guess${i}`, '198.51.100.20');
      expect(await server.accounts.verify('alice', 'forgotten', '198.51.100.20')).toMatchObject({ reason: 'throttled' });
      clock += 60_000;
      await admin.accounts.setPassword('alice', 'brand-new');
      expect(await server.accounts.verify('alice', 'brand-new', '198.51.100.20')).toMatchObject({ ok: true });
      // A lock earned after the change stands.
      for (let i = 0; i < 5; i++) await server.accounts.verify('alice', `again${i}`, '198.51.100.20');
      expect(await server.accounts.verify('alice', 'brand-new', '198.51.100.20')).toMatchObject({ reason: 'throttled' });
      // An address that guessed at many names stays locked, whatever happens to one password.
      for (let i = 0; i < 10; i++) await server.accounts.verify(`name${i}`, 'x', '198.51.100.30');
      clock += 60_000;
      await admin.accounts.setPassword('alice', 'newer-still');
      expect(await server.accounts.verify('alice', 'newer-still', '198.51.100.30')).toMatchObject({ reason: 'throttled' });
      // A deleted and re-created account is a new password too.
      await admin.accounts.remove('alice');
      clock += 60_000;
      await admin.accounts.add('alice', 'someone-else');
      expect(await server.accounts.verify('alice', 'someone-else', '198.51.100.20')).toMatchObject({ ok: true });
    });

    it('throttles failed logins: delays, a lock-out per address and name, and expiry', async () => {
      let clock = 1_000_000;
      const s = await open({ accounts: { now: () => clock } });
      await s.accounts.add('alice', 'right');
      const delays: number[] = [];
      for (let i = 0; i < 5; i++) {
        const result = await s.accounts.verify('alice', 'guess', '203.0.113.9');
        expect(result.ok).toBe(false);
        if (!result.ok) delays.push(result.delayMs);
      }
      expect(delays).toEqual([1000, 2000, 4000, 5000, 5000]);
      // Locked for this address, even with the right password...
      const locked = await s.accounts.verify('alice', 'right', '203.0.113.9');
      expect(locked).toMatchObject({ ok: false, reason: 'throttled', retryAfterMs: 15 * 60_000 });
      // ...but the real user elsewhere still gets in.
      expect((await s.accounts.verify('alice', 'right', '198.51.100.7')).ok).toBe(true);
      clock += 15 * 60_000;
      expect((await s.accounts.verify('alice', 'right', '203.0.113.9')).ok).toBe(true);
    });

    it('reserves quota atomically, never past the quota, and releases it', async () => {
      await store.accounts.add('alice', 'pw', { quota: 100 });
      await store.quota.reserve('alice', 60);
      const over = await store.quota.reserve('alice', 41).catch((e: unknown) => e);
      expect(over).toMatchObject({ code: 'EQUOTA' });
      expect((over as Error).message).toContain('uses 60 of 100 bytes');
      await store.quota.reserve('alice', 40);
      expect(await store.quota.usage('alice')).toEqual({ quotaBytes: 100, bytesUsed: 100, freeBytes: 0 });
      await store.quota.reserve('alice', 0);
      await store.quota.release('alice', 30);
      expect((await store.quota.usage('alice')).bytesUsed).toBe(70);
      await store.quota.release('alice', 1000);
      expect((await store.quota.usage('alice')).bytesUsed).toBe(0);
      expect(await codeOf(store.quota.reserve('nobody', 1))).toBe('ENOUSER');
      expect(await codeOf(store.quota.release('nobody', 1))).toBe('ENOUSER');
      expect(await codeOf(store.quota.reserve('alice', -1))).toBe('EBADVALUE');
      expect(await codeOf(store.quota.reserve('alice', 1.5))).toBe('EBADVALUE');
    });

    it('handles quotas beyond 32 bits', async () => {
      const tib = 1024 ** 4;
      await store.accounts.add('big', 'pw', { quota: 3 * tib });
      await store.quota.reserve('big', 2 * tib);
      await store.quota.reserve('big', tib);
      expect(await codeOf(store.quota.reserve('big', 1))).toBe('EQUOTA');
      expect(await store.quota.usage('big')).toEqual({ quotaBytes: 3 * tib, bytesUsed: 3 * tib, freeBytes: 0 });
      await store.accounts.setQuota('big', 4 * tib);
      await store.quota.reserve('big', tib);
    });

    it('never goes over quota when two connections reserve at once', async () => {
      const other = await open();
      await store.accounts.add('alice', 'pw', { quota: 250 });
      const attempts = Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? store : other).quota.reserve('alice', 10));
      const results = await Promise.allSettled(attempts);
      expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(25);
      for (const result of results) if (result.status === 'rejected') expect(result.reason).toMatchObject({ code: 'EQUOTA' });
      expect((await store.quota.usage('alice')).bytesUsed).toBe(250);
    });

    it('reopens an existing database without migrating again', async () => {
      await store.accounts.add('alice', 'pw');
      await store.close();
      const again = await open();
      expect(again.migrations).toEqual(storeMigrations.map(([name]) => name));
      expect((await again.accounts.get('alice'))?.name).toBe('alice');
    });

    it('refuses a database whose schema is newer than this code', async () => {
      await sql`insert into wharf_migration (name, timestamp) values (${'9999_from_the_future'}, ${new Date().toISOString()})`.execute(store.db);
      const error = await openStore({ dataDir: fresh.dataDir, url: fresh.url }).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(WharfError);
      expect(error).toMatchObject({ code: 'ESTORE' });
      expect((error as Error).message).toMatch(/^database schema is newer than this wharf \(.*9999_from_the_future.*\); upgrade wharf$/);
    });
  });
}
