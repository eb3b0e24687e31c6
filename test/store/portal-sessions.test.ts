/**
 * The portal's sessions (src/store/portal-sessions.ts, migration 0009) on every database the
 * store runs on: only the token's hash kept, the sliding idle deadline and the longest lifetime,
 * and a session ending with its account's lock, removal or new password.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { openStore, PortalSessions, type Store } from '../../src/store/index.js';
import { testDatabases, type FreshDatabase } from './databases.js';

const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;

for (const database of testDatabases) {
  describe.skipIf(!database.available)(`portal sessions on ${database.label}`, () => {
    let fresh: FreshDatabase;
    let store: Store;
    let now = Date.UTC(2026, 0, 1);
    let sessions: PortalSessions;

    beforeEach(async () => {
      fresh = await database.fresh();
      store = await openStore({ dataDir: fresh.dataDir, url: fresh.url });
      now = Date.UTC(2026, 0, 1);
      sessions = new PortalSessions(store, { idleMs: 7 * DAY, maxAgeMs: 30 * DAY, now: () => now });
      await store.accounts.add('alice', 'secret');
      await store.accounts.add('boss', 'bosspw', { role: 'admin' });
    });

    afterEach(async () => {
      await store.close();
      await fresh.drop();
    });

    it('runs migration 0009 and keeps only the token\'s SHA-256', async () => {
      expect(store.migrations).toContain('0009_portal_sessions');
      const created = await sessions.create('alice');
      expect(created.token).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect(created.csrfToken).not.toBe(created.token);
      const rows = await store.db.selectFrom('portal_sessions').selectAll().execute();
      expect(rows).toHaveLength(1);
      expect(rows[0]!.token_hash).toMatch(/^[0-9a-f]{64}$/);
      expect(JSON.stringify(rows)).not.toContain(created.token);
      const found = await sessions.find(created.token);
      expect(found).toEqual({ account: { name: 'alice', admin: false }, csrfToken: created.csrfToken, expiresAt: now + 7 * DAY });
      expect((await sessions.find((await sessions.create('boss')).token))?.account).toEqual({ name: 'boss', admin: true });
      expect(await sessions.find('x'.repeat(43))).toBeUndefined();
      expect(await sessions.find('not a token')).toBeUndefined();
    });

    it('slides the idle deadline while used, never past the longest lifetime', async () => {
      const { token } = await sessions.create('alice');
      for (let day = 1; day <= 29; day += 6) {
        now = Date.UTC(2026, 0, 1) + day * DAY;
        expect(await sessions.find(token), `day ${day}`).toBeDefined();
      }
      now = Date.UTC(2026, 0, 1) + 30 * DAY;
      expect(await sessions.find(token)).toBeUndefined();
      const idle = await sessions.create('alice');
      now += 7 * DAY;
      expect(await sessions.find(idle.token)).toBeUndefined();
      expect(await sessions.count()).toBe(0);
    });

    it('ends with its account locked, removed, or given a new password; sign-out removes it', async () => {
      let session = await sessions.create('alice');
      await store.accounts.setDisabled('alice', true);
      expect(await sessions.find(session.token)).toBeUndefined();
      await store.accounts.setDisabled('alice', false);
      expect(await sessions.find(session.token)).toBeUndefined();

      session = await sessions.create('alice');
      now += 1;
      await store.accounts.setPassword('alice', 'other');
      expect(await sessions.find(session.token)).toBeUndefined();

      session = await sessions.create('alice');
      await store.accounts.remove('alice');
      await store.accounts.add('alice', 'secret');
      expect(await sessions.find(session.token)).toBeUndefined();

      session = await sessions.create('alice');
      await sessions.remove(session.token);
      expect(await sessions.find(session.token)).toBeUndefined();
      await expect(sessions.create('nobody')).rejects.toMatchObject({ code: 'ENOUSER' });
    });
  });
}
