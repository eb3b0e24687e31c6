import type { Kysely, Selectable } from 'kysely';
import { z } from 'zod';
import { WharfError } from '../core/errors.js';
import { RateLimiter } from '../core/rate-limiter.js';
import { sizeSchema } from '../core/config.js';
import type { Logger } from '../core/logger.js';
import { accountNameKey, accountNameProblem, newAccountNameProblem } from './account-names.js';
import { LoginThrottle, throttleKeyForAddress, type LoginThrottleOptions, type ThrottleEvent } from './login-throttle.js';
import { MAX_PASSWORD_LENGTH, dummyPasswordHash, hashPassword, verifyPassword } from './password.js';
import type { AccountsTable, Role, Schema } from './schema.js';
import { isUniqueViolation, toStoreError } from './store-errors.js';

export type { Role };

/** One GiB, as in the seed's FTP homework. */
export const DEFAULT_QUOTA_BYTES = 1024 ** 3;

export interface Account {
  name: string;
  role: Role;
  disabled: boolean;
  createdAt: Date;
  quotaBytes: number;
  bytesUsed: number;
}

export type VerifyResult =
  | { ok: true; account: Account }
  | {
      ok: false;
      reason: 'bad-credentials' | 'disabled' | 'throttled';
      /** Wait this long before answering the client (0 when there is nothing to slow down). */
      delayMs: number;
      /** When throttled (or this failure caused a lock-out): how long until a retry may succeed. */
      retryAfterMs?: number;
    };

/**
 * The one log line for a refused login, which each service logs at WARN with its own logger (so
 * the line says which service; the store itself logs it only at debug, or every failure would
 * be two lines). Names come from the network: the terminal log format escapes what they hold.
 */
export function loginFailureLine(name: string, clientIp: string, result: Extract<VerifyResult, { ok: false }>): string {
  const why = result.reason === 'throttled' ? 'refused: too many failed logins' : result.reason === 'disabled' ? 'failed: the account is disabled' : 'failed: wrong name or password';
  const locked = result.reason === 'bad-credentials' && result.retryAfterMs ? `; locked out for ${Math.ceil(result.retryAfterMs / 1000)} s` : '';
  return `${name.slice(0, 64)} ${clientIp} login ${why}${locked}`;
}

/** The `accounts` section of the configuration. */
export const accountsConfigSchema = z.object({
  /** Let anyone on the network create an account (the seeds do; fine on a LAN). */
  selfRegistration: z.boolean().default(true),
  /** Self-registrations (attempts) allowed per client address per hour. */
  registrationsPerIpPerHour: z.number().int().min(1).default(5),
  /** Quota of a new account: bytes or a size such as `1G`. */
  defaultQuota: sizeSchema.default(DEFAULT_QUOTA_BYTES),
});
export type AccountsConfig = z.output<typeof accountsConfigSchema>;

export interface AccountsOptions extends Partial<AccountsConfig> {
  throttle?: LoginThrottleOptions;
  /** Milliseconds; drives the throttle and the registration limiter (tests pass a fake clock). */
  now?: () => number;
}

/** What the store hands to Accounts and Quota: the database and how to name it in errors. */
export interface StoreContext {
  db: Kysely<Schema>;
  /** A file path or a URL without its password. */
  location: string;
  busyTimeoutMs?: number;
  logger?: Logger;
}

/**
 * Checks and normalises (NFC) the name of an existing account (the rules of `accountNameProblem`).
 * Throws WharfError EINVAL with the reason.
 */
export function normalizeAccountName(name: string): string {
  const reason = accountNameProblem(name);
  if (reason) throw invalidName(name, reason);
  return name.normalize('NFC');
}

function invalidName(name: string, reason: string): WharfError {
  return new WharfError('EBADVALUE', `invalid account name ${JSON.stringify(name.slice(0, 80))}: ${reason}`);
}

function checkPassword(password: string): void {
  if (password.length === 0) throw new WharfError('EBADVALUE', 'the password is empty');
  if (password.length > MAX_PASSWORD_LENGTH) throw new WharfError('EBADVALUE', `the password is longer than ${MAX_PASSWORD_LENGTH} characters`);
}

export function checkQuotaBytes(bytes: number): number {
  if (!Number.isSafeInteger(bytes) || bytes < 0) throw new WharfError('EBADVALUE', `a quota is a whole number of bytes, 0 or more (got ${bytes})`);
  return bytes;
}

function toAccount(row: Pick<Selectable<AccountsTable>, 'name' | 'role' | 'disabled' | 'created_at' | 'quota_bytes' | 'bytes_used'>): Account {
  return {
    name: row.name,
    role: row.role === 'admin' ? 'admin' : 'user',
    disabled: Number(row.disabled) !== 0,
    createdAt: new Date(Number(row.created_at)),
    quotaBytes: Number(row.quota_bytes),
    bytesUsed: Number(row.bytes_used),
  };
}

const ACCOUNT_COLUMNS = ['name', 'role', 'disabled', 'created_at', 'quota_bytes', 'bytes_used'] as const;

/**
 * What one process serving these accounts tells the others (`--workers N`): the login throttle's
 * events, and each self-registration, which counts against its address's hourly allowance.
 */
export type AccountsEvent = ThrottleEvent | { kind: 'registration'; clientIp: string; at: number };

/** How a shared log of AccountsEvents keeps the processes in step (see `Accounts.share`). */
export interface AccountsSync {
  /** Apply what the other processes published since the last call. */
  catchUp(): Promise<void>;
  /** Resolves once what this process published is where the others read it. */
  written(): Promise<void>;
}

/** The throttle key of every name that cannot be an account (it contains a character no name may). */
const INVALID_NAME_KEY = '\u0000invalid name';

/**
 * The one user base. Services call `verify` and `register`; the admin CLI calls the rest.
 * Expected failures are WharfErrors: EEXIST (name taken), ENOUSER (no such account), EINVAL
 * (bad name, password or quota), EPERM (self-registration is off), ETHROTTLED (too many
 * registrations from one address), ESTORE (the database itself failed).
 */
export class Accounts {
  readonly throttle: LoginThrottle;
  readonly #context: StoreContext;
  readonly #config: AccountsConfig;
  readonly #registrations: RateLimiter;
  readonly #now: () => number;
  #publish: ((event: AccountsEvent) => void) | undefined;
  #sync: AccountsSync | undefined;

  constructor(context: StoreContext, options: AccountsOptions = {}) {
    this.#context = context;
    this.#config = accountsConfigSchema.parse({
      selfRegistration: options.selfRegistration,
      registrationsPerIpPerHour: options.registrationsPerIpPerHour,
      defaultQuota: options.defaultQuota,
    });
    const now = options.now ?? Date.now;
    this.#now = now;
    this.throttle = new LoginThrottle({ ...options.throttle, now: options.throttle?.now ?? now });
    const perHour = this.#config.registrationsPerIpPerHour;
    this.#registrations = new RateLimiter({ ratePerSecond: perHour / 3600, burst: perHour, now });
  }

  /**
   * Send this process's login failures, successes, resets and registrations to `publish`, for the
   * other processes that serve the same accounts to `apply`; what they apply is not sent again.
   * With `sync` (the database-backed log), what the others published is applied before each
   * login and registration is counted, and a failure is published before its answer goes out.
   */
  share(publish: (event: AccountsEvent) => void, sync?: AccountsSync): void {
    this.#publish = publish;
    this.#sync = sync;
    this.throttle.share(publish);
  }

  /** Count what another process saw. */
  apply(event: AccountsEvent): void {
    if (event.kind === 'registration') this.#registrations.spent(throttleKeyForAddress(event.clientIp), event.at);
    else this.throttle.apply(event);
  }

  get selfRegistration(): boolean {
    return this.#config.selfRegistration;
  }

  /** Create an account (the administrator's path: no switch, no rate limit). */
  async add(name: string, password: string, options: { role?: Role; quota?: number } = {}): Promise<Account> {
    const problem = newAccountNameProblem(name);
    if (problem) throw invalidName(name, problem);
    const normalized = name.normalize('NFC');
    const key = accountNameKey(normalized);
    checkPassword(password);
    const quota = checkQuotaBytes(options.quota ?? this.#config.defaultQuota);
    const role = options.role ?? 'user';
    if (role !== 'user' && role !== 'admin') throw new WharfError('EBADVALUE', `a role is "user" or "admin" (got ${JSON.stringify(role)})`);
    const passwordHash = await hashPassword(password);
    const createdAt = Date.now();
    await this.#run(async (db) => {
      try {
        await db
          .insertInto('accounts')
          .values({ name: normalized, name_key: key, password_hash: passwordHash, role, disabled: 0, created_at: createdAt, quota_bytes: quota, bytes_used: 0, password_changed_at: this.#now() })
          .execute();
      } catch (error) {
        // The unique index on name_key: `Alice` is taken when `alice` is.
        if (isUniqueViolation(error)) throw new WharfError('ETAKEN', `the account name "${normalized}" is taken`, { cause: error });
        throw error;
      }
    });
    this.throttle.forgetName(key);
    return { name: normalized, role, disabled: false, createdAt: new Date(createdAt), quotaBytes: quota, bytesUsed: 0 };
  }

  /**
   * Self-registration over the network. Refused when `selfRegistration` is off (EPERM) or when
   * the address has registered too often lately (ETHROTTLED). Two racing registrations of one
   * name: the database's unique constraint lets exactly one win; the other gets EEXIST.
   */
  async register(name: string, password: string, clientIp: string): Promise<Account> {
    if (!this.#config.selfRegistration) throw new WharfError('EFORBIDDEN', 'self-registration is turned off on this server; ask an administrator for an account');
    // A name that can never be an account is refused before it costs the address an attempt.
    const problem = newAccountNameProblem(name);
    if (problem) throw invalidName(name, problem);
    await this.#sync?.catchUp();
    if (!this.#registrations.take(throttleKeyForAddress(clientIp))) {
      throw new WharfError('ETHROTTLED', `too many registrations from ${clientIp}; try again later`);
    }
    this.#publish?.({ kind: 'registration', clientIp, at: this.#now() });
    const account = await this.add(name, password, { role: 'user' });
    this.#context.logger?.info({ account: account.name, clientIp }, 'account registered');
    return account;
  }

  /**
   * Check a login. Unknown name and wrong password give the same answer in about the same
   * time. On failure, wait `delayMs` before answering the client.
   */
  async verify(name: string, password: string, clientIp: string): Promise<VerifyResult> {
    const nameIsValid = accountNameProblem(name) === undefined;
    // The throttle counts per name key, so `Alice` and `ALICE` share `alice`'s failures. Names
    // that can never be accounts share one key: no memory per junk string.
    const key = nameIsValid ? accountNameKey(name) : INVALID_NAME_KEY;
    await this.#sync?.catchUp();
    let gate = this.throttle.check(key, clientIp);
    if (!gate.allowed && nameIsValid && (await this.#passwordChangedSinceLock(name, key, clientIp))) {
      // The lock was earned against a password that has since been replaced (an administrator's
      // reset, maybe from another process): it no longer protects anything.
      this.throttle.success(key, clientIp);
      gate = this.throttle.check(key, clientIp);
    }
    if (!gate.allowed) return { ok: false, reason: 'throttled', delayMs: 0, retryAfterMs: gate.retryAfterMs };

    const passwordIsPlausible = password.length > 0 && password.length <= MAX_PASSWORD_LENGTH;
    const row =
      nameIsValid && passwordIsPlausible
        ? await this.#find(name, [...ACCOUNT_COLUMNS, 'password_hash'])
        : undefined;
    // Always one scrypt: against the account's hash, or a dummy one for an unknown name.
    const matches = await verifyPassword(passwordIsPlausible ? password : '', row?.password_hash ?? (await dummyPasswordHash()));
    if (!row || !matches) {
      const { delayMs, lockedForMs } = this.throttle.failure(key, clientIp);
      await this.#sync?.written();
      this.#context.logger?.debug({ account: nameIsValid ? key : undefined, clientIp, lockedForMs }, 'login failed');
      return lockedForMs > 0 ? { ok: false, reason: 'bad-credentials', delayMs, retryAfterMs: lockedForMs } : { ok: false, reason: 'bad-credentials', delayMs };
    }
    this.throttle.success(key, clientIp);
    const account = toAccount(row);
    if (account.disabled) return { ok: false, reason: 'disabled', delayMs: 0 };
    return { ok: true, account };
  }

  /** The account `name` means: its exact name (NFC), else the one whose name folds to the same key. */
  async get(name: string): Promise<Account | undefined> {
    if (accountNameProblem(name) !== undefined) return undefined;
    const row = await this.#find(name, ACCOUNT_COLUMNS);
    return row && toAccount(row);
  }

  /** Every account, by name. */
  async list(): Promise<Account[]> {
    const rows = await this.#run((db) => db.selectFrom('accounts').select(ACCOUNT_COLUMNS).orderBy('name').execute());
    return rows.map(toAccount);
  }

  async setPassword(name: string, password: string): Promise<void> {
    const normalized = normalizeAccountName(name);
    checkPassword(password);
    const passwordHash = await hashPassword(password);
    await this.#update(normalized, { password_hash: passwordHash, password_changed_at: this.#now() });
    this.throttle.forgetName(accountNameKey(normalized));
  }

  /** Quota in bytes. Lowering it below what is used is allowed: uploads then fail until files go. */
  async setQuota(name: string, bytes: number): Promise<void> {
    await this.#update(normalizeAccountName(name), { quota_bytes: checkQuotaBytes(bytes) });
  }

  async setDisabled(name: string, disabled: boolean): Promise<void> {
    await this.#update(normalizeAccountName(name), { disabled: disabled ? 1 : 0 });
  }

  async setRole(name: string, role: Role): Promise<void> {
    if (role !== 'user' && role !== 'admin') throw new WharfError('EBADVALUE', `a role is "user" or "admin" (got ${JSON.stringify(role)})`);
    await this.#update(normalizeAccountName(name), { role });
  }

  /** Delete the account (its files, if any, are the services' business). */
  async remove(name: string): Promise<void> {
    const normalized = normalizeAccountName(name);
    const row = await this.#find(normalized, ['id']);
    const result = row ? await this.#run((db) => db.deleteFrom('accounts').where('id', '=', row.id).executeTakeFirst()) : undefined;
    if (!result || result.numDeletedRows === 0n) throw noSuchAccount(normalized);
    this.throttle.forgetName(accountNameKey(normalized));
  }

  /** Is this name locked for this address (the address itself is not) by failures older than its password? */
  async #passwordChangedSinceLock(name: string, key: string, clientIp: string): Promise<boolean> {
    const lockedAt = this.throttle.nameLockedAt(key, clientIp);
    if (lockedAt === undefined) return false;
    const row = await this.#find(name, ['password_changed_at']);
    return row !== undefined && Number(row.password_changed_at) > lockedAt;
  }

  async #update(name: string, values: { password_hash?: string; password_changed_at?: number; quota_bytes?: number; disabled?: number; role?: Role }): Promise<void> {
    const row = await this.#find(name, ['id']);
    const result = row ? await this.#run((db) => db.updateTable('accounts').set(values).where('id', '=', row.id).executeTakeFirst()) : undefined;
    // MySQL counts matched rows here (mysql2 sets CLIENT_FOUND_ROWS), so "0" means "no such name".
    if (!result || result.numUpdatedRows === 0n) throw noSuchAccount(name);
  }

  /**
   * The row `name` means. The exact name (NFC) wins: that is how an account whose name folded
   * onto an older one's before migration 0006 (its key is null) is still reached; any other
   * spelling finds the account that holds the key. Logging in as `ALICE` is thus `alice`: the
   * names are one name for registration, so they are one for everything else too.
   */
  async #find<C extends keyof Selectable<AccountsTable>>(name: string, columns: readonly C[]): Promise<Pick<Selectable<AccountsTable>, C> | undefined> {
    const exact = name.normalize('NFC');
    const key = accountNameKey(exact);
    const rows = await this.#run((db) =>
      db
        .selectFrom('accounts')
        .select([...new Set<keyof Selectable<AccountsTable>>([...columns, 'name', 'name_key'])])
        .where((eb) => eb.or([eb('name', '=', exact), eb('name_key', '=', key)]))
        .execute(),
    );
    const row = rows.find((candidate) => candidate.name === exact) ?? rows.find((candidate) => candidate.name_key === key);
    return row as Pick<Selectable<AccountsTable>, C> | undefined;
  }

  async #run<T>(query: (db: Kysely<Schema>) => Promise<T>): Promise<T> {
    try {
      return await query(this.#context.db);
    } catch (error) {
      throw toStoreError(error, this.#context.location, this.#context.busyTimeoutMs);
    }
  }
}

export function noSuchAccount(name: string): WharfError {
  return new WharfError('ENOUSER', `there is no account named "${name}"`);
}
