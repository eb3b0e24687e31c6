import { sql, type Kysely } from 'kysely';
import { WharfError } from '../core/errors.js';
import { noSuchAccount, normalizeAccountName, type StoreContext } from './accounts.js';
import type { Schema } from './schema.js';
import { toStoreError } from './store-errors.js';

export interface QuotaUsage {
  quotaBytes: number;
  bytesUsed: number;
  /** quotaBytes - bytesUsed, never below 0. */
  freeBytes: number;
}

function checkBytes(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new WharfError('EBADVALUE', `a size is a whole number of bytes, 0 or more (got ${bytes})`);
  return bytes;
}

/**
 * Storage quota per account. `reserve` is one conditional UPDATE, so the check and the addition
 * are a single atomic step in the database: however many processes or nodes reserve at once,
 * `bytes_used` never passes `quota_bytes`.
 *
 * A service reserves before it writes (the upload's size, or chunk by chunk when the size is not
 * known) and releases what it did not use, or what a deleted file held.
 */
export class Quota {
  readonly #context: StoreContext;

  constructor(context: StoreContext) {
    this.#context = context;
  }

  /** Take `bytes` from the account's quota, or throw EQUOTA (ENOUSER for an unknown name). */
  async reserve(name: string, bytes: number): Promise<void> {
    const normalized = normalizeAccountName(name);
    checkBytes(bytes);
    const result = await this.#run((db) =>
      db
        .updateTable('accounts')
        .set({ bytes_used: sql<number>`bytes_used + ${bytes}` })
        .where('name', '=', normalized)
        .where(sql<number>`bytes_used + ${bytes}`, '<=', sql<number>`quota_bytes`)
        .executeTakeFirst(),
    );
    if (result.numUpdatedRows > 0n) return;
    const usage = await this.usage(normalized);
    throw new WharfError(
      'EQUOTA',
      `over quota: "${normalized}" uses ${usage.bytesUsed} of ${usage.quotaBytes} bytes and ${bytes} more do not fit`,
    );
  }

  /** Give `bytes` back (a deleted file, an aborted upload). Never goes below 0. */
  async release(name: string, bytes: number): Promise<void> {
    const normalized = normalizeAccountName(name);
    checkBytes(bytes);
    const result = await this.#run((db) =>
      db
        .updateTable('accounts')
        .set({ bytes_used: sql<number>`case when bytes_used > ${bytes} then bytes_used - ${bytes} else 0 end` })
        .where('name', '=', normalized)
        .executeTakeFirst(),
    );
    if (result.numUpdatedRows === 0n) throw noSuchAccount(normalized);
  }

  /** Set the bytes used outright (an administrator recounting a home folder). */
  async setUsed(name: string, bytes: number): Promise<void> {
    const normalized = normalizeAccountName(name);
    checkBytes(bytes);
    const result = await this.#run((db) => db.updateTable('accounts').set({ bytes_used: bytes }).where('name', '=', normalized).executeTakeFirst());
    if (result.numUpdatedRows === 0n) throw noSuchAccount(normalized);
  }

  async usage(name: string): Promise<QuotaUsage> {
    const normalized = normalizeAccountName(name);
    const row = await this.#run((db) =>
      db.selectFrom('accounts').select(['quota_bytes', 'bytes_used']).where('name', '=', normalized).executeTakeFirst(),
    );
    if (!row) throw noSuchAccount(normalized);
    const quotaBytes = Number(row.quota_bytes);
    const bytesUsed = Number(row.bytes_used);
    return { quotaBytes, bytesUsed, freeBytes: Math.max(0, quotaBytes - bytesUsed) };
  }

  async #run<T>(query: (db: Kysely<Schema>) => Promise<T>): Promise<T> {
    try {
      return await query(this.#context.db);
    } catch (error) {
      throw toStoreError(error, this.#context.location, this.#context.busyTimeoutMs);
    }
  }
}
