import { createHash, randomBytes } from 'node:crypto';
import { CompiledQuery, sql, type Kysely, type Transaction } from 'kysely';
import { WharfError } from '../../core/errors.js';
import type { Store } from '../../store/index.js';
import type { DiarySchema } from '../../store/migrations/0002-diary.js';
import { isUniqueViolation, toStoreError } from '../../store/store-errors.js';
import { SqliteDiaryWriter } from './sqlite-writer.js';

/** The public diary's key in the database (account diaries use the account's name). */
export const PUBLIC_DIARY = '';

/** An entry as read back. */
export interface StoredEntry {
  id: number;
  diary: string;
  /** Milliseconds since the epoch. */
  ms: number;
  text: string;
  account: string | null;
  address: string | null;
}

/** A new entry from a seed client (no id of its own). */
export interface NewEntry {
  diary: string;
  text: string;
  account: string | null;
  address: string | null;
}

/** An entry of wharf's own client, waiting for its turn in its client's sequence. */
export interface SequencedEntry extends NewEntry {
  /** When set, the entry is refused (consumes its sequence number, is not stored). */
  refused?: { code: string; message: string };
}

/** What a commit did for one client of wharf's protocol. */
export interface ClientCommit {
  /** The highest sequence number done before this commit (0 for a new client). */
  before: number;
  /** The highest done after it: every entry in (before, after] was stored or refused now. */
  after: number;
}

/** A commit's outcome. */
export interface CommitResult {
  /** The time stamped on every entry of this commit. */
  ms: number;
  clients: Map<string, ClientCommit>;
}

const ROWS_PER_INSERT = 200;

interface EntryRow {
  diary: string;
  created_at: number;
  text: string;
  account: string | null;
  address: string | null;
  client_id: string | null;
  seq: number | null;
}

function toNumber(value: number | string | bigint | null | undefined): number {
  return value === null || value === undefined ? 0 : Number(value);
}

function toEntry(row: { id: number | string | bigint; diary: string; created_at: number | string | bigint; text: string; account: string | null; address: string | null }): StoredEntry {
  return { id: Number(row.id), diary: row.diary, ms: Number(row.created_at), text: row.text, account: row.account, address: row.address };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/**
 * The diary's tables (migration 0002_diary). Every write is one transaction that commits before
 * anyone is told "stored". Failures are WharfErrors (ESTORE) with the database named.
 */
export class DiaryStore {
  readonly db: Kysely<DiarySchema>;
  readonly #store: Store;
  #sqlite: SqliteDiaryWriter | undefined;
  readonly #busyTimeoutMs = 5_000;

  constructor(store: Store) {
    this.#store = store;
    this.db = store.db as unknown as Kysely<DiarySchema>;
  }

  get dialect(): Store['dialect'] {
    return this.#store.dialect;
  }

  async #run<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      throw toStoreError(error, this.#store.location);
    }
  }

  /**
   * Store the seed clients' entries and, for each client of wharf's protocol, the run of its
   * entries that continues its sequence: `pending` holds what has arrived (any order, gaps
   * allowed); the commit takes seq = last + 1, last + 2, … while they are there. Duplicates (seq
   * ≤ last) are not stored again. One transaction; retried when a concurrent writer (another
   * worker process) got there first.
   */
  async commitWrites(seed: readonly NewEntry[], clients: ReadonlyMap<string, ReadonlyMap<number, SequencedEntry>>): Promise<CommitResult> {
    const started = Date.now();
    for (let attempt = 1; ; attempt++) {
      try {
        if (this.#sqlite) return this.#sqlite.commitWrites(seed, clients);
        return await this.db.transaction().execute((trx) => this.#commit(trx, seed, clients));
      } catch (error) {
        // Another writer (the store's connection, another worker process) holds the lock or got
        // there first: try again shortly, for up to the store's busy timeout.
        const retryable = isUniqueViolation(error) || /SQLITE_BUSY|deadlock|serializ|Lock wait/i.test(String((error as { code?: unknown }).code ?? '') + String((error as Error).message));
        if (!retryable || Date.now() - started > this.#busyTimeoutMs) throw toStoreError(error, this.#store.location);
        await new Promise((resolve) => setTimeout(resolve, Math.min(50, 2 * attempt)));
      }
    }
  }

  /**
   * Use a connection of the diary's own for writes (SQLite files only; see sqlite-writer.ts).
   * `fsync`: `synchronous = FULL` on it, so that acknowledged entries survive a power cut.
   */
  useOwnSqliteConnection(options: { fsync: boolean }): boolean {
    if (this.#sqlite || this.dialect !== 'sqlite' || this.#store.location === ':memory:') return this.#sqlite !== undefined;
    this.#sqlite = new SqliteDiaryWriter(this.#store.location, options);
    return true;
  }

  /** Close the diary's own connection, if it opened one (the store itself stays open). */
  close(): void {
    this.#sqlite?.close();
    this.#sqlite = undefined;
  }

  async #commit(trx: Transaction<DiarySchema>, seed: readonly NewEntry[], clients: ReadonlyMap<string, ReadonlyMap<number, SequencedEntry>>): Promise<CommitResult> {
    const ms = Date.now();
    const rows: EntryRow[] = [];
    for (const entry of seed) rows.push({ diary: entry.diary, created_at: ms, text: entry.text, account: entry.account, address: entry.address, client_id: null, seq: null });
    const result = new Map<string, ClientCommit>();
    for (const [clientId, pending] of clients) {
      const row = await trx.selectFrom('diary_clients').select('last_seq').where('client_id', '=', clientId).executeTakeFirst();
      const before = toNumber(row?.last_seq);
      let after = before;
      for (let entry = pending.get(after + 1); entry !== undefined; entry = pending.get(after + 1)) {
        after += 1;
        if (!entry.refused) rows.push({ diary: entry.diary, created_at: ms, text: entry.text, account: entry.account, address: entry.address, client_id: clientId, seq: after });
      }
      result.set(clientId, { before, after });
      if (after === before) continue;
      if (row) await trx.updateTable('diary_clients').set({ last_seq: after, updated_at: ms }).where('client_id', '=', clientId).execute();
      else await trx.insertInto('diary_clients').values({ client_id: clientId, last_seq: after, updated_at: ms }).execute();
    }
    await this.#insertRows(trx, rows);
    return { ms, clients: result };
  }

  /**
   * Insert rows, ROWS_PER_INSERT per statement. The SQL is written here rather than built with
   * Kysely's query builder: compiling a 200-row insert costs more than running it. The unique
   * (client_id, seq) index is the last line of defence: a row that is already there (a concurrent
   * worker stored it) is skipped, not an error that fails the whole batch.
   */
  async #insertRows(db: Kysely<DiarySchema>, rows: ReadonlyArray<EntryRow>): Promise<void> {
    const dialect = this.dialect;
    for (let from = 0; from < rows.length; from += ROWS_PER_INSERT) {
      const chunk = rows.slice(from, from + ROWS_PER_INSERT);
      const parameters: unknown[] = [];
      const tuples: string[] = [];
      for (const row of chunk) {
        const start = parameters.length;
        parameters.push(row.diary, row.created_at, row.text, row.account, row.address, row.client_id, row.seq);
        tuples.push(
          dialect === 'postgres'
            ? `($${start + 1}, $${start + 2}, $${start + 3}, $${start + 4}, $${start + 5}, $${start + 6}, $${start + 7})`
            : '(?, ?, ?, ?, ?, ?, ?)',
        );
      }
      const columns = '(diary, created_at, text, account, address, client_id, seq)';
      const statement =
        dialect === 'mysql'
          ? `insert ignore into diary_entries ${columns} values ${tuples.join(', ')}`
          : `insert into diary_entries ${columns} values ${tuples.join(', ')} on conflict (client_id, seq) do nothing`;
      await db.executeQuery(CompiledQuery.raw(statement, parameters));
    }
  }

  /** When each of `seqs` of a client was stored (those still in their diary). */
  async entryTimes(clientId: string, seqs: readonly number[]): Promise<Map<number, number>> {
    const times = new Map<number, number>();
    if (seqs.length === 0) return times;
    const rows = await this.#run(() =>
      this.db.selectFrom('diary_entries').select(['seq', 'created_at']).where('client_id', '=', clientId).where('seq', 'in', [...seqs]).execute(),
    );
    for (const row of rows) times.set(toNumber(row.seq), toNumber(row.created_at));
    return times;
  }

  /** Entries after `afterId`, oldest first, at most `limit`; only those stored at `sinceMs` or later. */
  async page(diary: string, options: { afterId?: number; sinceMs?: number; limit: number }): Promise<StoredEntry[]> {
    return this.#run(async () => {
      let query = this.db
        .selectFrom('diary_entries')
        .select(['id', 'diary', 'created_at', 'text', 'account', 'address'])
        .where('diary', '=', diary)
        .where('id', '>', options.afterId ?? 0);
      if (options.sinceMs !== undefined) query = query.where('created_at', '>=', options.sinceMs);
      const rows = await query.orderBy('id', 'asc').limit(options.limit).execute();
      return rows.map(toEntry);
    });
  }

  /** The newest entries, newest first, at most `limit`, older than `beforeId` when given. */
  async newest(diary: string, limit: number, beforeId?: number): Promise<StoredEntry[]> {
    return this.#run(async () => {
      let query = this.db.selectFrom('diary_entries').select(['id', 'diary', 'created_at', 'text', 'account', 'address']).where('diary', '=', diary);
      if (beforeId !== undefined) query = query.where('id', '<', beforeId);
      const rows = await query.orderBy('id', 'desc').limit(limit).execute();
      return rows.map(toEntry);
    });
  }

  async count(diary: string): Promise<number> {
    const row = await this.#run(() => this.db.selectFrom('diary_entries').select(sql<number | string | bigint>`count(*)`.as('n')).where('diary', '=', diary).executeTakeFirst());
    return toNumber(row?.n);
  }

  /** Every entry of a diary, oldest first, in chunks (export). */
  async *all(diary: string, chunk = 1000): AsyncGenerator<StoredEntry> {
    let afterId = 0;
    for (;;) {
      const rows = await this.page(diary, { afterId, limit: chunk });
      for (const row of rows) yield row;
      if (rows.length < chunk) return;
      afterId = rows.at(-1)!.id;
    }
  }

  /**
   * Empty a diary. `requestId` names the clear: a second clear with the same id (a resent
   * request whose answer was lost) removes nothing and answers what the first one removed.
   */
  async clear(diary: string, who: { account: string | null; address: string | null }, requestId = randomBytes(16).toString('hex')): Promise<{ removed: number; replayed: boolean }> {
    return this.#run(() =>
      this.db.transaction().execute(async (trx) => {
        const done = await trx.selectFrom('diary_clears').select('removed').where('request_id', '=', requestId).executeTakeFirst();
        if (done) return { removed: toNumber(done.removed), replayed: true };
        const deleted = await trx.deleteFrom('diary_entries').where('diary', '=', diary).executeTakeFirst();
        const removed = Number(deleted.numDeletedRows);
        await trx
          .insertInto('diary_clears')
          .values({ request_id: requestId, diary, cleared_at: Date.now(), account: who.account, address: who.address, removed })
          .execute();
        return { removed, replayed: false };
      }),
    );
  }

  /**
   * Add entries read from a daily.log, skipping those already in the diary (same second, same
   * text, counted: a file with the same line twice keeps both), so importing twice adds nothing.
   */
  async importEntries(diary: string, entries: ReadonlyArray<{ ms: number; text: string }>): Promise<{ added: number; skipped: number }> {
    const key = (ms: number, text: string) => `${Math.floor(ms / 1000)}\u0000${text}`;
    const existing = new Map<string, number>();
    for await (const entry of this.all(diary)) {
      const k = key(entry.ms, entry.text);
      existing.set(k, (existing.get(k) ?? 0) + 1);
    }
    const rows: EntryRow[] = [];
    let skipped = 0;
    for (const entry of entries) {
      const k = key(entry.ms, entry.text);
      const count = existing.get(k) ?? 0;
      if (count > 0) {
        existing.set(k, count - 1);
        skipped += 1;
        continue;
      }
      rows.push({ diary, created_at: entry.ms, text: entry.text, account: null, address: null, client_id: null, seq: null });
    }
    await this.#run(() => this.db.transaction().execute((trx) => this.#insertRows(trx, rows)));
    return { added: rows.length, skipped };
  }

  // ---- sessions of wharf's protocol ----

  /** A new session token for `account` (kept only as its hash); the oldest beyond `maxPerAccount` end. */
  async createSession(account: string, ttlMs: number, maxPerAccount: number): Promise<{ token: string; expiresAt: number }> {
    const token = randomBytes(16).toString('base64url');
    const now = Date.now();
    const expiresAt = now + ttlMs;
    await this.#run(async () => {
      await this.db.deleteFrom('diary_sessions').where('expires_at', '<', now).execute();
      await this.db.insertInto('diary_sessions').values({ token_hash: hashToken(token), account, created_at: now, expires_at: expiresAt }).execute();
      const rows = await this.db.selectFrom('diary_sessions').select('token_hash').where('account', '=', account).orderBy('created_at', 'desc').orderBy('token_hash').execute();
      const extra = rows.slice(maxPerAccount).map((row) => row.token_hash);
      if (extra.length > 0) await this.db.deleteFrom('diary_sessions').where('token_hash', 'in', extra).execute();
    });
    return { token, expiresAt };
  }

  /** The session a token opens, if it exists and has not expired. */
  async session(token: string): Promise<{ account: string; expiresAt: number } | undefined> {
    const row = await this.#run(() =>
      this.db.selectFrom('diary_sessions').select(['account', 'expires_at']).where('token_hash', '=', hashToken(token)).executeTakeFirst(),
    );
    if (!row || toNumber(row.expires_at) <= Date.now()) return undefined;
    return { account: row.account, expiresAt: toNumber(row.expires_at) };
  }

  /**
   * Forget what no client can need any more: sequence state of clients silent for `clientIdleMs`
   * (a client gives up long before), expired sessions, clear records older than `clearsMs`.
   */
  async prune(options: { clientIdleMs: number; clearsMs: number }): Promise<void> {
    const now = Date.now();
    await this.#run(async () => {
      await this.db.deleteFrom('diary_clients').where('updated_at', '<', now - options.clientIdleMs).execute();
      await this.db.deleteFrom('diary_sessions').where('expires_at', '<', now).execute();
      await this.db.deleteFrom('diary_clears').where('cleared_at', '<', now - options.clearsMs).execute();
    });
  }
}

/** "alice" → "alice's diary", "" → "the public diary", for messages. */
export function describeDiary(diary: string): string {
  return diary === PUBLIC_DIARY ? 'the public diary' : `${diary}'s diary`;
}

export function storeFailure(error: unknown): WharfError {
  return error instanceof WharfError ? error : new WharfError('ESTORE', String(error));
}
