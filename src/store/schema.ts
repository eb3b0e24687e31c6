import type { ColumnType, Generated } from 'kysely';

/**
 * A 64-bit integer column. The drivers disagree on how they return BIGINT (better-sqlite3 and
 * mysql2 as a number, pg as a string), so reads go through `Number()` in the code that maps rows.
 */
export type BigIntColumn = ColumnType<number | string | bigint, number, number>;

export type Role = 'user' | 'admin';

/** `accounts`: one row per user, shared by every service (migration 0001_accounts). */
export interface AccountsTable {
  id: Generated<number>;
  /** NFC-normalised, compared byte for byte (utf8mb4_bin on MySQL). */
  name: string;
  /**
   * `accountNameKey(name)` (NFKC, case-folded), unique: the name's identity (migration 0006).
   * Null only for an account whose name folded onto an older one's before that migration.
   */
  name_key: string | null;
  /** `scrypt$N$r$p$saltB64$hashB64`, see password.ts. */
  password_hash: string;
  role: Role;
  /** 0 or 1: an integer on every dialect, so that rows read the same everywhere. */
  disabled: number;
  /** Milliseconds since the epoch (UTC). */
  created_at: ColumnType<number | string | bigint, number, never>;
  quota_bytes: BigIntColumn;
  bytes_used: ColumnType<number | string | bigint, number | undefined, number>;
  /** When the password was last set, ms since the epoch; 0 before migration 0005. */
  password_changed_at: ColumnType<number | string | bigint, number | undefined, number>;
}

/**
 * Every table wharf keeps. A migration that adds a table adds its interface here, so the
 * services' queries are type-checked against the real schema.
 */
/** `portal_sessions`: the browser portal's sign-ins (migration 0009_portal_sessions). */
export interface PortalSessionsTable {
  /** SHA-256 of the cookie's token, hex. */
  token_hash: string;
  account_id: BigIntColumn;
  /** The token every state-changing request of this session carries (X-CSRF-Token). */
  csrf_token: string;
  /** The account's `password_changed_at` at sign-in: a session outlives no password change. */
  password_changed_at: BigIntColumn;
  created_at: BigIntColumn;
  expires_at: BigIntColumn;
}

export interface Schema {
  accounts: AccountsTable;
  portal_sessions: PortalSessionsTable;
}
