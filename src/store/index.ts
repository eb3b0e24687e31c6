/**
 * The data layer every service shares: one Kysely database (SQLite by default, PostgreSQL or
 * MySQL/MariaDB by URL), its migrations, the accounts and their quotas. Services use `Store`'s
 * `accounts` and `quota`, never SQL of their own on these tables.
 */
export { openStore, parseDatabaseUrl, DATABASE_FILE_NAME, type OpenStoreOptions, type Store, type StoreDialect, type DatabaseTarget } from './database.js';
export {
  Accounts,
  accountsConfigSchema,
  loginFailureLine,
  normalizeAccountName,
  DEFAULT_QUOTA_BYTES,
  type Account,
  type AccountsConfig,
  type AccountsEvent,
  type AccountsOptions,
  type Role,
  type VerifyResult,
} from './accounts.js';
export { accountNameKey, accountNameProblem, newAccountNameProblem, MAX_NAME_LENGTH, RESERVED_ACCOUNT_NAMES } from './account-names.js';
export { Quota, type QuotaUsage } from './quota.js';
export { storeOf, requireStore } from './service-store.js';
export { SharedLoginThrottle, type SharedLoginThrottleOptions } from './shared-login-throttle.js';
export { LoginThrottle, LOGIN_THROTTLE_DEFAULTS, throttleKeyForAddress, type LoginThrottleOptions, type ThrottleCheck, type ThrottleEvent, type ThrottleFailure } from './login-throttle.js';
export { hashPassword, verifyPassword, MAX_PASSWORD_LENGTH } from './password.js';
export { storeMigrations, type StoreMigration } from './migrations/index.js';
export type { Schema, AccountsTable, PortalSessionsTable } from './schema.js';
export { FileRoot, FileRootRefusal, isInsideRoot, type FileRootRefusalReason } from './file-root.js';
export { PortalSessions, PORTAL_SESSION_DEFAULTS, isTokenShaped, newToken, type PortalSession, type NewPortalSession, type PortalSessionsOptions } from './portal-sessions.js';
