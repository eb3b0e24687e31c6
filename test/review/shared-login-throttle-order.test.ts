/**
 * Review: SharedLoginThrottle reads `id > lastId`. In PostgreSQL (and MySQL) an id is taken when
 * a row is inserted but seen only when its transaction commits, so ids become visible out of
 * order: a reader that saw id N+1 before id N committed moves lastId past N and never applies it.
 * Under a brute force spread over machines (concurrent inserts: what the table is for) some
 * failures are never counted on the other machines, and a lock-out comes later or not at all.
 */
import { sql } from 'kysely';
import { afterEach, describe, expect, it } from 'vitest';
import { SharedLoginThrottle, openStore, type Store } from '../../src/store/index.js';
import { testDatabases, type FreshDatabase } from '../store/databases.js';

const opened: Array<{ store: Store; shared?: SharedLoginThrottle }> = [];
const fresh: FreshDatabase[] = [];
afterEach(async () => {
  for (const { store, shared } of opened.splice(0)) {
    await shared?.close();
    await store.close();
  }
  await Promise.all(fresh.splice(0).map((d) => d.drop()));
});

const postgres = testDatabases.find((d) => d.dialect === 'postgres')!;

describe.skipIf(!postgres.available)('shared login throttle, rows committed out of id order', () => {
  it('a failure whose row commits after a later row was read is still counted', async () => {
    const db = await postgres.fresh();
    fresh.push(db);
    const machine = async (share: boolean) => {
      const store = await openStore({ dataDir: db.dataDir, url: db.url });
      const shared = share ? await SharedLoginThrottle.start(store) : undefined;
      opened.push({ store, shared });
      return store;
    };
    const a = await machine(true);
    const b = await machine(true);
    const raw = await machine(false);
    await a.accounts.add('carol', 'right password');
    for (let i = 0; i < 4; i++) expect(await a.accounts.verify('carol', 'wrong', '10.0.0.9')).toMatchObject({ ok: false, reason: 'bad-credentials' });
    const table = sql.table('login_throttle_events');
    const rows = await sql<{ event: string }>`select event from ${table} order by id`.execute(raw.db);
    const failure = rows.rows.at(-1)!.event;
    // A third machine's fifth failure: its insert has its id, its commit comes late.
    let commit!: () => void;
    const committed = new Promise<void>((resolve) => (commit = resolve));
    let inserted!: () => void;
    const insertedYet = new Promise<void>((resolve) => (inserted = resolve));
    const late = raw.db.transaction().execute(async (trx) => {
      await sql`insert into ${table} (at, origin, event) values (${Date.now()}, ${'c-machine'}, ${failure})`.execute(trx);
      inserted();
      await committed;
    });
    await insertedYet;
    // Meanwhile another row (someone else's failure) commits, and B reads it.
    await a.accounts.verify('nobody-here', 'wrong', '10.0.0.50');
    expect(await b.accounts.verify('nobody-else', 'wrong', '10.0.0.51')).toMatchObject({ ok: false });
    commit();
    await late;
    // Five failures of carol from 10.0.0.9 in all: locked on B too.
    expect(await b.accounts.verify('carol', 'right password', '10.0.0.9')).toMatchObject({ ok: false, reason: 'throttled' });
  }, 30_000);
});
