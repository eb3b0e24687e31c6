/**
 * The lookups of logged-in accounts (the seed's `H`: "the user's 10 latest lookups"), kept in the
 * store's `dict_history` table (migration 0003_dictionary). Each account keeps its latest
 * `keepPerAccount` rows; older ones are pruned now and then, so the table stays bounded.
 */
import type { Kysely } from 'kysely';
import type { DictionarySchema } from '../../store/migrations/0003-dictionary.js';
import type { Store } from '../../store/index.js';
import type { HistoryLine } from './protocol.js';

export interface HistoryOptions {
  /** Rows kept per account. Default 1,000. */
  keepPerAccount?: number;
  /** Prune an account's old rows once every this many lookups it makes. Default 50. */
  pruneEvery?: number;
}

/** What the session needs: record a lookup, read the latest ones. */
export interface LookupHistory {
  record(account: string, word: string, database: string, at: Date): Promise<void>;
  latest(account: string, limit: number): Promise<HistoryLine[]>;
}

export class StoreHistory implements LookupHistory {
  readonly #db: Kysely<DictionarySchema>;
  readonly #keep: number;
  readonly #pruneEvery: number;
  readonly #sincePrune = new Map<string, number>();

  constructor(store: Pick<Store, 'db'>, options: HistoryOptions = {}) {
    this.#db = store.db as unknown as Kysely<DictionarySchema>;
    this.#keep = options.keepPerAccount ?? 1_000;
    this.#pruneEvery = options.pruneEvery ?? 50;
  }

  async record(account: string, word: string, database: string, at: Date): Promise<void> {
    await this.#db.insertInto('dict_history').values({ account, word, database_name: database, looked_up_at: at.getTime() }).execute();
    const count = (this.#sincePrune.get(account) ?? 0) + 1;
    if (count < this.#pruneEvery) {
      this.#sincePrune.set(account, count);
      return;
    }
    this.#sincePrune.delete(account);
    await this.prune(account);
  }

  /** Delete the account's rows older than its latest `keepPerAccount`. */
  async prune(account: string): Promise<void> {
    const boundary = await this.#db
      .selectFrom('dict_history')
      .select('id')
      .where('account', '=', account)
      .orderBy('id', 'desc')
      .limit(1)
      .offset(this.#keep)
      .executeTakeFirst();
    if (boundary) await this.#db.deleteFrom('dict_history').where('account', '=', account).where('id', '<=', Number(boundary.id)).execute();
  }

  async latest(account: string, limit: number): Promise<HistoryLine[]> {
    const rows = await this.#db
      .selectFrom('dict_history')
      .select(['account', 'word', 'database_name', 'looked_up_at'])
      .where('account', '=', account)
      .orderBy('id', 'desc')
      .limit(limit)
      .execute();
    return rows.map((row) => ({ account: row.account, word: row.word, database: row.database_name, at: new Date(Number(row.looked_up_at)) }));
  }
}
