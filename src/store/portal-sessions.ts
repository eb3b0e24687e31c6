/**
 * The browser portal's sign-ins (issue #19): a random 32-byte token in the visitor's cookie, only
 * its SHA-256 in the database, with the account, the session's CSRF token and its lifetime
 * (sliding: `idleMs` after the last use, never more than `maxAgeMs` after sign-in).
 *
 * A session is checked against its account at every use: a locked (disabled) or removed account,
 * or one whose password changed since the sign-in, ends it at its next request.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { Kysely } from 'kysely';
import { WharfError } from '../core/errors.js';
import type { Schema } from './schema.js';
import { toStoreError } from './store-errors.js';
import { noSuchAccount } from './accounts.js';

export const PORTAL_SESSION_DEFAULTS = {
  /** A session unused this long ends. */
  idleMs: 7 * 24 * 3600 * 1000,
  /** ... and any session this long after its sign-in. */
  maxAgeMs: 30 * 24 * 3600 * 1000,
};

/** Moving the idle deadline costs a write: done at most this often per session. */
const TOUCH_EVERY_MS = 60_000;

export interface PortalSessionsOptions {
  idleMs?: number;
  maxAgeMs?: number;
  /** Milliseconds since the epoch (tests pass a fake clock). */
  now?: () => number;
}

/** A session in use: its account as it is now. */
export interface PortalSession {
  readonly account: { readonly name: string; readonly admin: boolean };
  readonly csrfToken: string;
  readonly expiresAt: number;
}

/** A new sign-in: the token goes into the cookie and is never stored. */
export interface NewPortalSession extends PortalSession {
  readonly token: string;
}

/** A fresh random token: 32 bytes, base64url (43 characters). */
export function newToken(): string {
  return randomBytes(32).toString('base64url');
}

const TOKEN = /^[A-Za-z0-9_-]{43}$/;

/** Is this a token's shape (what a cookie may hold before it is looked up)? */
export function isTokenShaped(value: string | undefined): value is string {
  return value !== undefined && TOKEN.test(value);
}

function hashToken(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

export class PortalSessions {
  readonly #db: Kysely<Schema>;
  readonly #location: string;
  readonly #idleMs: number;
  readonly #maxAgeMs: number;
  readonly #now: () => number;

  constructor(store: { readonly db: Kysely<Schema>; readonly location: string }, options: PortalSessionsOptions = {}) {
    this.#db = store.db;
    this.#location = store.location;
    this.#idleMs = options.idleMs ?? PORTAL_SESSION_DEFAULTS.idleMs;
    this.#maxAgeMs = options.maxAgeMs ?? PORTAL_SESSION_DEFAULTS.maxAgeMs;
    this.#now = options.now ?? Date.now;
  }

  /** The longest a session can live: the cookie's Max-Age. */
  get maxAgeMs(): number {
    return this.#maxAgeMs;
  }

  /** Sign `name` in (its password already checked): a new session, and expired ones swept. */
  async create(name: string): Promise<NewPortalSession> {
    const now = this.#now();
    const account = await this.#run((db) => db.selectFrom('accounts').select(['id', 'name', 'role', 'password_changed_at']).where('name', '=', name).executeTakeFirst());
    if (account === undefined) throw noSuchAccount(name);
    const token = newToken();
    const csrfToken = newToken();
    const expiresAt = Math.min(now + this.#idleMs, now + this.#maxAgeMs);
    await this.#run(async (db) => {
      await db.deleteFrom('portal_sessions').where('expires_at', '<=', now).execute();
      await db
        .insertInto('portal_sessions')
        .values({ token_hash: hashToken(token), account_id: Number(account.id), csrf_token: csrfToken, password_changed_at: Number(account.password_changed_at), created_at: now, expires_at: expiresAt })
        .execute();
    });
    return { token, csrfToken, expiresAt, account: { name: account.name, admin: account.role === 'admin' } };
  }

  /**
   * The session this cookie token opens, or undefined (unknown, expired, or its account locked,
   * removed or given a new password since: such a session is deleted). Using it moves its idle deadline.
   */
  async find(token: string): Promise<PortalSession | undefined> {
    if (!isTokenShaped(token)) return undefined;
    const tokenHash = hashToken(token);
    const now = this.#now();
    const row = await this.#run((db) =>
      db
        .selectFrom('portal_sessions as s')
        .leftJoin('accounts as a', 'a.id', 's.account_id')
        .select(['s.csrf_token', 's.password_changed_at as session_password_at', 's.created_at', 's.expires_at', 'a.name', 'a.role', 'a.disabled', 'a.password_changed_at as account_password_at'])
        .where('s.token_hash', '=', tokenHash)
        .executeTakeFirst(),
    );
    if (row === undefined) return undefined;
    const createdAt = Number(row.created_at);
    const expiresAt = Number(row.expires_at);
    const valid =
      row.name !== null &&
      row.name !== undefined &&
      Number(row.disabled) === 0 &&
      Number(row.account_password_at) === Number(row.session_password_at) &&
      now < expiresAt &&
      now < createdAt + this.#maxAgeMs;
    if (!valid) {
      await this.#run((db) => db.deleteFrom('portal_sessions').where('token_hash', '=', tokenHash).execute());
      return undefined;
    }
    let nextExpiry = Math.min(now + this.#idleMs, createdAt + this.#maxAgeMs);
    if (nextExpiry - expiresAt >= TOUCH_EVERY_MS) {
      await this.#run((db) => db.updateTable('portal_sessions').set({ expires_at: nextExpiry }).where('token_hash', '=', tokenHash).execute());
    } else {
      nextExpiry = expiresAt;
    }
    return { account: { name: row.name as string, admin: row.role === 'admin' }, csrfToken: row.csrf_token, expiresAt: nextExpiry };
  }

  /** Sign out: the session ends (nothing happens for an unknown token). */
  async remove(token: string): Promise<void> {
    if (!isTokenShaped(token)) return;
    await this.#run((db) => db.deleteFrom('portal_sessions').where('token_hash', '=', hashToken(token)).execute());
  }

  /** How many sessions are open now (for status and tests). */
  async count(): Promise<number> {
    const now = this.#now();
    const row = await this.#run((db) => db.selectFrom('portal_sessions').select((eb) => eb.fn.countAll<number | string | bigint>().as('n')).where('expires_at', '>', now).executeTakeFirst());
    return Number(row?.n ?? 0);
  }

  async #run<T>(query: (db: Kysely<Schema>) => Promise<T>): Promise<T> {
    try {
      return await query(this.#db);
    } catch (error) {
      if (error instanceof WharfError) throw error;
      throw toStoreError(error, this.#location);
    }
  }
}
