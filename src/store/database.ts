import { mkdirSync } from 'node:fs';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { Kysely, Migrator, sql, MysqlDialect, PostgresDialect, SqliteDialect, type Dialect, type MigrationProvider } from 'kysely';
import type { Pool as MysqlPool } from 'mysql2';
import { UsageError, WharfError } from '../core/errors.js';
import type { Logger } from '../core/logger.js';
import { Accounts, type AccountsOptions, type StoreContext } from './accounts.js';
import { kyselyMigrations, storeMigrations, type StoreDialect } from './migrations/index.js';
import { Quota } from './quota.js';
import type { Schema } from './schema.js';
import { isMissingTable, toStoreError } from './store-errors.js';

export type { StoreDialect };

export const DATABASE_FILE_NAME = 'wharf.db';
export const MIGRATION_TABLE = 'wharf_migration';
export const MIGRATION_LOCK_TABLE = 'wharf_migration_lock';

export interface OpenStoreOptions {
  /** The data folder; the SQLite file is `<dataDir>/wharf.db` unless `url` says otherwise. */
  dataDir: string;
  /**
   * Where the database is: undefined (SQLite in dataDir), `sqlite:PATH`, `postgres://…`,
   * `postgresql://…`, `mysql://…` or `mariadb://…`.
   */
  url?: string;
  logger?: Logger;
  accounts?: AccountsOptions;
  /** How long SQLite waits for a lock held by another process (default 5000 ms). */
  busyTimeoutMs?: number;
  /** How long to wait for a database server to accept a connection (default 5000 ms). */
  connectTimeoutMs?: number;
  /** Connections per process to a database server (default 10). */
  poolSize?: number;
}

export interface Store {
  readonly db: Kysely<Schema>;
  readonly dialect: StoreDialect;
  /** The SQLite file path, or the server URL without its password: for logs and messages. */
  readonly location: string;
  readonly accounts: Accounts;
  readonly quota: Quota;
  /** The migrations this database has run, oldest first. */
  readonly migrations: readonly string[];
  close(): Promise<void>;
}

export interface DatabaseTarget {
  dialect: StoreDialect;
  /** File path (sqlite) or connection URL (servers). */
  target: string;
  location: string;
}

/** Which database a `--db` value means. A scheme wharf does not know is a UsageError. */
export function parseDatabaseUrl(url: string | undefined, dataDir: string): DatabaseTarget {
  if (url === undefined || url.trim() === '') {
    const file = path.resolve(dataDir, DATABASE_FILE_NAME);
    return { dialect: 'sqlite', target: file, location: file };
  }
  const trimmed = url.trim();
  const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(trimmed)?.[1]?.toLowerCase();
  if (scheme === 'sqlite' || scheme === 'sqlite3') {
    let file = trimmed.slice(scheme.length + 1);
    if (file.startsWith('//')) file = file.slice(2); // sqlite:///abs/path and sqlite://rel/path
    if (file === '') throw new UsageError(`--db ${trimmed}: no file after "sqlite:" (try sqlite:/path/to/wharf.db)`);
    const resolved = file === ':memory:' ? file : path.resolve(file);
    return { dialect: 'sqlite', target: resolved, location: resolved };
  }
  if (scheme === 'postgres' || scheme === 'postgresql' || scheme === 'mysql' || scheme === 'mariadb') {
    let parsed: URL;
    try {
      parsed = new URL(trimmed);
    } catch {
      throw new UsageError(`--db: not a valid ${scheme} URL (try ${scheme}://user:password@host:port/database)`);
    }
    const dialect: StoreDialect = scheme.startsWith('postgres') ? 'postgres' : 'mysql';
    if (dialect === 'mysql' && scheme === 'mariadb') parsed.protocol = 'mysql:';
    const target = parsed.toString();
    if (parsed.password) parsed.password = '***';
    parsed.search = '';
    return { dialect, target, location: parsed.toString() };
  }
  throw new UsageError(
    `--db: unknown database scheme "${scheme ?? trimmed}" (use sqlite:PATH, postgres://user@host/db or mysql://user@host/db)`,
  );
}

/**
 * Open the one database every service shares and bring its schema up to date. Refuses a database
 * that has migrations this code does not know (a newer wharf wrote it). Every failure is a
 * WharfError (ESTORE, or EUSAGE for a bad URL), never a driver's stack trace.
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const target = parseDatabaseUrl(options.url, options.dataDir);
  const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
  const connectTimeoutMs = options.connectTimeoutMs ?? 5000;
  const logger = options.logger;
  let db: Kysely<Schema> | undefined;
  let sqlite: BetterSqlite3.Database | undefined;
  try {
    let dialect: Dialect;
    if (target.dialect === 'sqlite') {
      sqlite = openSqlite(target.target, busyTimeoutMs);
      dialect = new SqliteDialect({ database: sqlite });
    } else if (target.dialect === 'postgres') {
      // The PostgreSQL and MySQL drivers load only when used: each adds about 15 MiB of resident
      // memory to every wharf process, and the default store is SQLite.
      const { default: pg } = await import('pg');
      const pool = new pg.Pool({ connectionString: target.target, max: options.poolSize ?? 10, connectionTimeoutMillis: connectTimeoutMs });
      // An idle connection that the server drops must not crash the process.
      pool.on('error', (error) => logger?.warn({ err: error.message }, 'database connection lost'));
      dialect = new PostgresDialect({ pool });
    } else {
      const { createPool: createMysqlPool } = await import('mysql2');
      const pool: MysqlPool = createMysqlPool({
        uri: target.target,
        connectionLimit: options.poolSize ?? 10,
        connectTimeout: connectTimeoutMs,
        charset: 'utf8mb4',
        supportBigNumbers: true,
        flags: ['FOUND_ROWS'],
      });
      pool.on('connection', (connection) => {
        connection.on('error', (error: Error) => logger?.warn({ err: error.message }, 'database connection lost'));
      });
      dialect = new MysqlDialect({ pool });
    }
    db = new Kysely<Schema>({ dialect });
    const migrations = await migrate(db, target, sqlite, logger);
    if (logger) await warnAboutFoldedNames(db, target.location, logger);
    const context: StoreContext = { db, location: target.location, busyTimeoutMs: target.dialect === 'sqlite' ? busyTimeoutMs : undefined, logger };
    const accounts = new Accounts(context, options.accounts);
    const quota = new Quota(context);
    const opened = db;
    let closed: Promise<void> | undefined;
    logger?.debug({ database: target.location, dialect: target.dialect, migrations }, 'store open');
    return {
      db: opened,
      dialect: target.dialect,
      location: target.location,
      accounts,
      quota,
      migrations,
      close: () => (closed ??= opened.destroy()),
    };
  } catch (error) {
    if (db) await db.destroy().catch(() => undefined);
    // Kysely only closes a SQLite handle it has used: close it here whatever happened.
    if (sqlite?.open) sqlite.close();
    throw toStoreError(error, target.location, busyTimeoutMs);
  }
}

/**
 * Accounts whose names folded onto an older account's when migration 0006 ran (`alice` and
 * `Alice`): they keep working by their exact name, but an administrator should rename them.
 */
async function warnAboutFoldedNames(db: Kysely<Schema>, location: string, logger: Logger): Promise<void> {
  const rows = await db.selectFrom('accounts').select('name').where('name_key', 'is', null).orderBy('name').limit(100).execute();
  if (rows.length === 0) return;
  logger.warn(
    { database: location, accounts: rows.map((row) => row.name) },
    'these accounts differ from older ones only by case or Unicode form; each still logs in by its exact name; remove the ones that should not exist (`wharf user del NAME` takes the exact name; docs/accounts.md, "Names")',
  );
}

function openSqlite(file: string, busyTimeoutMs: number): BetterSqlite3.Database {
  if (file !== ':memory:') {
    try {
      mkdirSync(path.dirname(file), { recursive: true });
    } catch (error) {
      throw new WharfError('ESTORE', `cannot create the data folder ${path.dirname(file)}: ${(error as Error).message}`, { cause: error });
    }
  }
  const database = new BetterSqlite3(file, { timeout: busyTimeoutMs });
  try {
    // busy_timeout first: switching to WAL takes a lock that another process may hold.
    database.pragma(`busy_timeout = ${Math.max(0, Math.floor(busyTimeoutMs))}`);
    switchToWriteAheadLog(database, busyTimeoutMs);
    database.pragma('synchronous = NORMAL');
    database.pragma('foreign_keys = ON');
    // Reading the schema is what finds out that a file is not a database at all.
    database.prepare('select count(*) from sqlite_master').get();
  } catch (error) {
    database.close();
    throw error;
  }
  return database;
}

/**
 * `journal_mode = WAL` on a file another connection is writing answers SQLITE_BUSY at once: SQLite
 * does not call its busy handler there (it would risk a deadlock), so busy_timeout does not help.
 * Two processes opening one new database together (`--workers`, a command beside a server) meet
 * this; ask again, every 10 ms, until the busy timeout has passed. This runs once, at open.
 */
function switchToWriteAheadLog(database: BetterSqlite3.Database, busyTimeoutMs: number): void {
  const deadline = Date.now() + busyTimeoutMs;
  const pause = new Int32Array(new SharedArrayBuffer(4));
  for (;;) {
    try {
      database.pragma('journal_mode = WAL');
      return;
    } catch (error) {
      if ((error as { code?: unknown }).code !== 'SQLITE_BUSY' || Date.now() >= deadline) throw error;
      Atomics.wait(pause, 0, 0, 10);
    }
  }
}

/** Run pending migrations; return the names the database has run. */
async function migrate(db: Kysely<Schema>, target: DatabaseTarget, sqlite: BetterSqlite3.Database | undefined, logger: Logger | undefined): Promise<string[]> {
  const raw = db as unknown as Kysely<unknown>;
  // PostgreSQL: keep the migration tables in the schema this connection works in (search_path),
  // so that several wharf installations (or test runs) can share one database.
  let schema: string | undefined;
  if (target.dialect === 'postgres') {
    const { rows } = await sql<{ schema: string | null }>`select current_schema() as schema`.execute(raw);
    schema = rows[0]?.schema ?? undefined;
    if (!schema) {
      throw new WharfError('ESTORE', `${target.location}: the search_path names no existing schema; create it, or fix the URL's options=-c search_path=…`);
    }
  }
  const provider: MigrationProvider = { getMigrations: () => Promise.resolve(kyselyMigrations(target.dialect)) };
  const migrator = new Migrator({
    db: raw,
    provider,
    migrationTableName: MIGRATION_TABLE,
    migrationLockTableName: MIGRATION_LOCK_TABLE,
    // Each service owns its own tables, and their migrations are independent: a database that
    // ran 0003 before 0002 existed must still take 0002 later instead of being refused.
    allowUnorderedMigrations: true,
    ...(schema ? { migrationTableSchema: schema } : {}),
  });

  const run = async (): Promise<string[]> => {
    await refuseNewerSchema(raw, schema, target.location);
    const { error, results } = await migrator.migrateToLatest();
    for (const result of results ?? []) {
      if (result.status === 'Success') logger?.info({ migration: result.migrationName, database: target.location }, 'database migrated');
    }
    if (error) {
      // Another node may have run a newer wharf's migration between our check and now.
      await refuseNewerSchema(raw, schema, target.location);
      const failed = results?.find((result) => result.status === 'Error')?.migrationName;
      const wrapped = toStoreError(error, target.location);
      throw new WharfError('ESTORE', failed ? `migration ${failed} failed: ${wrapped.message}` : wrapped.message, { cause: error });
    }
    return executedMigrations(raw, schema);
  };

  if (!sqlite || sqlite.memory) return run();
  // SQLite has no migration lock across processes (Kysely's only guards one connection). Two
  // `--workers` starting on a fresh file would both create the tables: hold the write lock
  // (BEGIN IMMEDIATE waits up to busy_timeout) for the whole check-and-migrate instead.
  sqlite.exec('begin immediate');
  try {
    const names = await run();
    sqlite.exec('commit');
    return names;
  } catch (error) {
    if (sqlite.inTransaction) sqlite.exec('rollback');
    throw error;
  }
}

async function executedMigrations(db: Kysely<unknown>, schema: string | undefined): Promise<string[]> {
  try {
    const table = schema ? db.withSchema(schema) : db;
    const rows = (await (table as Kysely<{ [MIGRATION_TABLE]: { name: string } }>)
      .selectFrom(MIGRATION_TABLE)
      .select('name')
      .orderBy('name')
      .execute()) as Array<{ name: string }>;
    return rows.map((row) => row.name);
  } catch (error) {
    if (isMissingTable(error)) return [];
    throw error;
  }
}

async function refuseNewerSchema(db: Kysely<unknown>, schema: string | undefined, location: string): Promise<void> {
  const known = new Set(storeMigrations.map(([name]) => name));
  const unknown = (await executedMigrations(db, schema)).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new WharfError(
      'ESTORE',
      `database schema is newer than this wharf (${location} has run migration ${unknown.join(', ')}, which this version does not know); upgrade wharf`,
    );
  }
}
