import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '../../../src/store/index.js';
import { DiaryStore, PUBLIC_DIARY, type SequencedEntry } from '../../../src/services/diary/diary-store.js';
import { testDatabases, type FreshDatabase } from '../../store/databases.js';
import { allEntries, openClient, seedSocket, startDiary, stopAll } from './support.js';

let counter = 0;
/** A client id and a diary of its own for each test: the tests of a dialect share one database. */
function fresh16(): string {
  counter += 1;
  return counter.toString(16).padStart(16, '0');
}

function entries(diaryName: string, list: Array<[number, string, Partial<SequencedEntry>?]>): Map<number, SequencedEntry> {
  return new Map(list.map(([seq, text, extra]) => [seq, { diary: diaryName, text, account: null, address: '127.0.0.1:1', ...extra }]));
}

async function textsOf(diary: DiaryStore, name: string): Promise<string[]> {
  return (await diary.page(name, { limit: 1000 })).map((e) => e.text);
}

for (const database of testDatabases) {
  describe.skipIf(!database.available)(`diary tables on ${database.label}`, () => {
    let fresh: FreshDatabase;
    let store: Store;
    let diary: DiaryStore;

    beforeAll(async () => {
      fresh = await database.fresh();
      store = await openStore({ dataDir: fresh.dataDir, url: fresh.url });
      diary = new DiaryStore(store);
    });
    afterEach(() => stopAll());
    afterAll(async () => {
      await store.close();
      await fresh.drop();
    });

    it('runs the diary migration', () => {
      expect(store.migrations).toContain('0002_diary');
    });

    // On SQLite the server writes through a connection of its own (sqlite-writer.ts): the same
    // rules must hold on both paths.
    const writePaths = database.dialect === 'sqlite' ? (['query builder', 'own connection'] as const) : (['query builder'] as const);
    for (const path of writePaths) {
      describe(`writes through the ${path}`, () => {
        let writer: DiaryStore;
        beforeAll(() => {
          writer = new DiaryStore(store);
          if (path === 'own connection') expect(writer.useOwnSqliteConnection({ fsync: false })).toBe(true);
        });
        afterAll(() => writer.close());

        it("stores each client's entries in sequence order, once, and holds back what follows a gap", async () => {
          const [A, B, d] = [fresh16(), fresh16(), `d${fresh16()}`];
          let result = await writer.commitWrites([{ diary: d, text: '种子', account: null, address: '127.0.0.1:9' }], new Map([[A, entries(d, [[1, 'a1'], [2, 'a2'], [4, 'a4']])]]));
          expect(result.clients.get(A)).toEqual({ before: 0, after: 2 });
          // 1 and 2 again (a resend), 3 fills the gap, 4 follows.
          result = await writer.commitWrites([], new Map([[A, entries(d, [[1, 'a1'], [2, 'a2'], [3, 'a3'], [4, 'a4']])], [B, entries(d, [[1, 'b1']])]]));
          expect(result.clients.get(A)).toEqual({ before: 2, after: 4 });
          expect(result.clients.get(B)).toEqual({ before: 0, after: 1 });
          const rows = (await allEntries(store)).filter((r) => r.diary === d);
          expect(rows.map((r) => r.text)).toEqual(['种子', 'a1', 'a2', 'a3', 'a4', 'b1']);
          expect(rows.filter((r) => r.client_id === A).map((r) => r.seq)).toEqual([1, 2, 3, 4]);
          expect(rows[0]).toMatchObject({ client_id: null, seq: null, address: '127.0.0.1:9' });
        });

        it('a refused entry takes its number but is not stored', async () => {
          const [A, d] = [fresh16(), `d${fresh16()}`];
          const result = await writer.commitWrites([], new Map([[A, entries(d, [[1, 'ok'], [2, 'no', { refused: { code: 'EPERM', message: 'no' } }], [3, 'ok too']])]]));
          expect(result.clients.get(A)).toEqual({ before: 0, after: 3 });
          expect(await textsOf(diary, d)).toEqual(['ok', 'ok too']);
        });

        it('skips a row that is already there instead of failing the batch (a concurrent writer)', async () => {
          const [A, d] = [fresh16(), `d${fresh16()}`];
          await writer.commitWrites([], new Map([[A, entries(d, [[1, 'first']])]]));
          // Another process stored seq 2 but its sequence row says 1 (it crashed in between, say).
          await diary.db.insertInto('diary_entries').values({ diary: d, created_at: Date.now(), text: 'second', account: null, address: null, client_id: A, seq: 2 }).execute();
          const result = await writer.commitWrites([{ diary: d, text: 'seed', account: null, address: null }], new Map([[A, entries(d, [[2, 'second'], [3, 'third']])]]));
          expect(result.clients.get(A)).toEqual({ before: 1, after: 3 });
          expect(await textsOf(diary, d)).toEqual(['first', 'second', 'seed', 'third']);
        });
      });
    }

    it('pages, newest, count and the times of stored entries', async () => {
      const [A, d, mine] = [fresh16(), `d${fresh16()}`, `d${fresh16()}`];
      await diary.commitWrites(
        Array.from({ length: 5 }, (_, i) => ({ diary: d, text: `p${i}`, account: null, address: null })),
        new Map([[A, entries(mine, [[1, 'mine', { account: 'alice' }]])]]),
      );
      expect(await diary.count(d)).toBe(5);
      expect(await diary.count(mine)).toBe(1);
      const first = await diary.page(d, { limit: 2 });
      expect(first.map((e) => e.text)).toEqual(['p0', 'p1']);
      expect((await diary.page(d, { afterId: first[1]!.id, limit: 10 })).map((e) => e.text)).toEqual(['p2', 'p3', 'p4']);
      expect((await diary.newest(d, 2)).map((e) => e.text)).toEqual(['p4', 'p3']);
      expect((await diary.page(d, { sinceMs: Date.now() + 60_000, limit: 10 })).length).toBe(0);
      const times = await diary.entryTimes(A, [1, 2]);
      expect([...times.keys()]).toEqual([1]);
    });

    it('a clear empties one diary, once per request id, and the sequences outlive it', async () => {
      const [A, d, other, request] = [fresh16(), `d${fresh16()}`, `d${fresh16()}`, fresh16()];
      await diary.commitWrites([{ diary: d, text: 'pub', account: null, address: null }], new Map([[A, entries(other, [[1, 'a']])]]));
      expect(await diary.clear(d, { account: null, address: '127.0.0.1:1' }, request)).toEqual({ removed: 1, replayed: false });
      await diary.commitWrites([{ diary: d, text: 'after', account: null, address: null }], new Map());
      // The same request again (its answer was lost): nothing more is removed.
      expect(await diary.clear(d, { account: null, address: '127.0.0.1:1' }, request)).toEqual({ removed: 1, replayed: true });
      expect(await textsOf(diary, d)).toEqual(['after']);
      expect(await textsOf(diary, other)).toEqual(['a']);
      // Entry 1 of client A resent after its diary was cleared is still not stored twice.
      await diary.clear(other, { account: 'alice', address: null });
      const result = await diary.commitWrites([], new Map([[A, entries(other, [[1, 'a']])]]));
      expect(result.clients.get(A)).toEqual({ before: 1, after: 1 });
      expect(await diary.count(other)).toBe(0);
    });

    it('imports a daily.log once: entries already there are skipped, repeated lines kept', async () => {
      const d = `d${fresh16()}`;
      const list = [
        { ms: 1_000_000, text: 'same' },
        { ms: 1_000_000, text: 'same' },
        { ms: 2_000_000, text: '中文' },
      ];
      expect(await diary.importEntries(d, list)).toEqual({ added: 3, skipped: 0 });
      expect(await diary.importEntries(d, [...list, { ms: 3_000_000, text: 'new' }])).toEqual({ added: 1, skipped: 3 });
      expect(await diary.count(d)).toBe(4);
    });

    it('keeps sessions as hashes, expires them and keeps at most N per account', async () => {
      const [alice, bob] = [`a${fresh16()}`, `b${fresh16()}`];
      const first = await diary.createSession(alice, 60_000, 2);
      expect(first.token).toMatch(/^[A-Za-z0-9_-]{22}$/);
      expect(await diary.session(first.token)).toMatchObject({ account: alice });
      const stored = await diary.db.selectFrom('diary_sessions').select('token_hash').execute();
      expect(stored.map((r) => r.token_hash)).not.toContain(first.token);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await diary.createSession(alice, 60_000, 2);
      await new Promise((resolve) => setTimeout(resolve, 5));
      await diary.createSession(alice, 60_000, 2);
      expect(await diary.session(first.token)).toBeUndefined();
      const short = await diary.createSession(bob, 1, 2);
      await new Promise((resolve) => setTimeout(resolve, 10));
      expect(await diary.session(short.token)).toBeUndefined();
      expect(await diary.session('A'.repeat(22))).toBeUndefined();
    });

    it('serves both protocols end to end', async () => {
      const { port } = await startDiary({}, database, { store, fresh });
      const seed = await seedSocket(port);
      expect(await seed.ask('种子的日记')).toMatch(/^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] 种子的日记$/);
      const client = await openClient(port);
      await Promise.all(Array.from({ length: 300 }, (_, i) => client.write(`entry ${i}`)));
      const read = await client.read();
      expect(read.map((e) => e.text)).toEqual(['种子的日记', ...Array.from({ length: 300 }, (_, i) => `entry ${i}`)]);
      expect(await diary.count(PUBLIC_DIARY)).toBe(301);
    });
  });
}
