import { describe, expect, it } from 'vitest';
import { StoreHistory } from '../../../src/services/dict/history.js';
import { openStore } from '../../../src/store/index.js';
import { testDatabases } from '../../store/databases.js';

for (const database of testDatabases) {
  describe.skipIf(!database.available)(`dictionary history on ${database.label}`, () => {
    it('records lookups, lists the latest first, prunes, and goes with the account', async () => {
      const fresh = await database.fresh();
      const store = await openStore({ dataDir: fresh.dataDir, url: fresh.url });
      try {
        expect(store.migrations).toContain('0003_dictionary');
        await store.accounts.add('Zoë', 'password-one');
        await store.accounts.add('other', 'password-two');
        const history = new StoreHistory(store, { keepPerAccount: 5, pruneEvery: 3 });
        const start = Date.UTC(2024, 4, 1, 12, 0, 0);
        for (let i = 0; i < 12; i++) await history.record('Zoë', `word ${i} 你好`, i % 2 ? 'wn' : '*', new Date(start + i * 1000));
        await history.record('other', 'elsewhere', 'wn', new Date(start));
        const latest = await history.latest('Zoë', 10);
        expect(latest.length).toBeGreaterThanOrEqual(5);
        expect(latest.length).toBeLessThanOrEqual(7);
        expect(latest[0]).toEqual({ account: 'Zoë', word: 'word 11 你好', database: 'wn', at: new Date(start + 11_000) });
        expect(latest.map((l) => l.word)).toEqual(latest.map((_, i) => `word ${11 - i} 你好`));
        await history.prune('Zoë');
        expect(await history.latest('Zoë', 10)).toHaveLength(5);
        expect(await history.latest('other', 10)).toHaveLength(1);
        await store.accounts.remove('Zoë');
        expect(await history.latest('Zoë', 10)).toEqual([]);
        await expect(history.record('nobody', 'x', 'wn', new Date())).rejects.toThrow();
      } finally {
        await store.close();
        await fresh.drop();
      }
    });
  });
}
