import BetterSqlite3 from 'better-sqlite3';
import type { ClientCommit, CommitResult, NewEntry, SequencedEntry } from './diary-store.js';

/** Rows per prepared multi-row INSERT (the remainder goes one row at a time). */
const ROWS_PER_STATEMENT = 64;
const COLUMNS = '(diary, created_at, text, account, address, client_id, seq)';

/**
 * The diary's write path on SQLite: its own connection to the store's file, with its statements
 * prepared once. Kysely's SQLite driver prepares every statement anew, which cost more than
 * running it on this path (one commit per batch of entries, every batch).
 *
 * A second connection to a WAL database is ordinary SQLite. The transaction here is synchronous
 * (BEGIN IMMEDIATE … COMMIT within one call), so it never holds the write lock across an await
 * and can never make the store's own connection wait. The other way round it could wait, so its
 * busy timeout is 0: SQLITE_BUSY comes back at once and the caller retries a few ms later instead
 * of blocking the event loop.
 *
 * `fsync` sets `synchronous = FULL` on this connection only: diary commits are then fsynced
 * without changing how the rest of the store writes.
 */
export class SqliteDiaryWriter {
  readonly #db: BetterSqlite3.Database;
  readonly #selectLast: BetterSqlite3.Statement<[string], { last_seq: number | bigint }>;
  readonly #updateLast: BetterSqlite3.Statement<[number, number, string]>;
  readonly #insertLast: BetterSqlite3.Statement<[string, number, number]>;
  readonly #insertOne: BetterSqlite3.Statement<unknown[]>;
  readonly #insertMany: BetterSqlite3.Statement<unknown[]>;
  readonly #commit: BetterSqlite3.Transaction<(seed: readonly NewEntry[], clients: ReadonlyMap<string, ReadonlyMap<number, SequencedEntry>>) => CommitResult>;

  constructor(file: string, options: { fsync: boolean }) {
    this.#db = new BetterSqlite3(file, { fileMustExist: true, timeout: 0 });
    try {
      this.#db.pragma('busy_timeout = 0');
      this.#db.pragma(`synchronous = ${options.fsync ? 'FULL' : 'NORMAL'}`);
      this.#selectLast = this.#db.prepare('select last_seq from diary_clients where client_id = ?');
      this.#updateLast = this.#db.prepare('update diary_clients set last_seq = ?, updated_at = ? where client_id = ?');
      this.#insertLast = this.#db.prepare('insert into diary_clients (client_id, last_seq, updated_at) values (?, ?, ?)');
      const tuple = '(?, ?, ?, ?, ?, ?, ?)';
      // The unique (client_id, seq) index is the last line of defence: a row already there is skipped.
      this.#insertOne = this.#db.prepare(`insert into diary_entries ${COLUMNS} values ${tuple} on conflict (client_id, seq) do nothing`);
      this.#insertMany = this.#db.prepare(`insert into diary_entries ${COLUMNS} values ${Array(ROWS_PER_STATEMENT).fill(tuple).join(', ')} on conflict (client_id, seq) do nothing`);
    } catch (error) {
      this.#db.close();
      throw error;
    }
    this.#commit = this.#db.transaction((seed, clients) => this.#write(seed, clients));
  }

  /** One transaction (BEGIN IMMEDIATE); throws SQLITE_BUSY at once if another writer holds the lock. */
  commitWrites(seed: readonly NewEntry[], clients: ReadonlyMap<string, ReadonlyMap<number, SequencedEntry>>): CommitResult {
    return this.#commit.immediate(seed, clients);
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  #write(seed: readonly NewEntry[], clients: ReadonlyMap<string, ReadonlyMap<number, SequencedEntry>>): CommitResult {
    const ms = Date.now();
    const batch: unknown[] = [];
    let rows = 0;
    const add = (diary: string, text: string, account: string | null, address: string | null, clientId: string | null, seq: number | null) => {
      batch.push(diary, ms, text, account, address, clientId, seq);
      rows += 1;
      if (rows === ROWS_PER_STATEMENT) {
        this.#insertMany.run(batch);
        batch.length = 0;
        rows = 0;
      }
    };
    for (const entry of seed) add(entry.diary, entry.text, entry.account, entry.address, null, null);
    const result = new Map<string, ClientCommit>();
    for (const [clientId, pending] of clients) {
      const row = this.#selectLast.get(clientId);
      const before = row ? Number(row.last_seq) : 0;
      let after = before;
      for (let entry = pending.get(after + 1); entry !== undefined; entry = pending.get(after + 1)) {
        after += 1;
        if (!entry.refused) add(entry.diary, entry.text, entry.account, entry.address, clientId, after);
      }
      result.set(clientId, { before, after });
      if (after === before) continue;
      if (row) this.#updateLast.run(after, ms, clientId);
      else this.#insertLast.run(clientId, after, ms);
    }
    for (let i = 0; i < rows; i++) this.#insertOne.run(batch.slice(i * 7, i * 7 + 7));
    return { ms, clients: result };
  }
}
