import { storeMigrations } from '../../src/store/migrations/index.js';
import { mkdtemp, readFile, rm, writeFile, open as openFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import BetterSqlite3 from 'better-sqlite3';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { sql } from 'kysely';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { UsageError, WharfError } from '../../src/core/errors.js';
import { openStore, parseDatabaseUrl } from '../../src/store/index.js';

const require = createRequire(import.meta.url);

async function failure(promise: Promise<unknown>): Promise<WharfError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WharfError);
  return error as WharfError;
}

describe('the SQLite file', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(path.join(tmpdir(), 'wharf-sqlite-'));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('is created as <data>/wharf.db, folders included, in WAL mode with a busy timeout and foreign keys', async () => {
    const dataDir = path.join(dir, 'nested', 'data');
    const store = await openStore({ dataDir });
    try {
      expect(store.location).toBe(path.join(dataDir, 'wharf.db'));
      const pragma = async (name: string) => Object.values((await sql.raw<Record<string, unknown>>(`pragma ${name}`).execute(store.db)).rows[0] ?? {})[0];
      expect(await pragma('journal_mode')).toBe('wal');
      expect(await pragma('busy_timeout')).toBe(5000);
      expect(await pragma('foreign_keys')).toBe(1);
      const header = await readFile(store.location);
      expect(header.subarray(0, 15).toString()).toBe('SQLite format 3');
    } finally {
      await store.close();
    }
  });

  it('waits for another program that is writing the file when it switches it to WAL (SQLite answers that switch busy at once, without its busy timeout)', async () => {
    // Two processes opening one new database together (`--workers`, a CLI command beside a
    // server): one may be writing while the other asks for WAL mode.
    const file = path.join(dir, 'wharf.db');
    new BetterSqlite3(file).close();
    const writer = new Worker(
      `const Database = require(${JSON.stringify(require.resolve('better-sqlite3'))});
      const db = new Database(${JSON.stringify(file)});
      db.exec('begin immediate');
      require('node:worker_threads').parentPort.postMessage('writing');
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 300);
      db.exec('commit');
      db.close();`,
      { eval: true },
    );
    await once(writer, 'message');
    const store = await openStore({ dataDir: dir });
    try {
      expect(Object.values((await sql.raw<Record<string, unknown>>('pragma journal_mode').execute(store.db)).rows[0] ?? {})[0]).toBe('wal');
    } finally {
      await store.close();
      await once(writer, 'exit');
    }
  });

  it('accepts sqlite:PATH and sqlite::memory:', async () => {
    const file = path.join(dir, 'elsewhere.db');
    const store = await openStore({ dataDir: path.join(dir, 'unused'), url: `sqlite:${file}` });
    await store.accounts.add('alice', 'pw');
    await store.close();
    const memory = await openStore({ dataDir: dir, url: 'sqlite::memory:' });
    expect(memory.migrations).toEqual(storeMigrations.map(([name]) => name));
    await memory.close();
    expect(parseDatabaseUrl(`sqlite://${file}`, dir).target).toBe(file);
    expect(parseDatabaseUrl(undefined, 'data').target).toBe(path.resolve('data', 'wharf.db'));
  });

  it('refuses a file that is not a database with a sentence, not a stack', async () => {
    await writeFile(path.join(dir, 'wharf.db'), 'these are my notes, not a database\n'.repeat(200));
    const error = await failure(openStore({ dataDir: dir }));
    expect(error.code).toBe('ESTORE');
    expect(error.message).toBe(`${path.join(dir, 'wharf.db')} is not a database (the file is damaged or is something else); move it aside or choose another --data folder`);
  });

  it('refuses a damaged database file', async () => {
    const store = await openStore({ dataDir: dir });
    await store.accounts.add('alice', 'pw');
    await store.close();
    // Keep the 100-byte header, scribble over the rest of page 1 (the schema's b-tree).
    const handle = await openFile(path.join(dir, 'wharf.db'), 'r+');
    await handle.write(Buffer.alloc(3000, 0xa5), 0, 3000, 100);
    await handle.close();
    const error = await failure(openStore({ dataDir: dir }));
    expect(error.code).toBe('ESTORE');
    expect(error.message).toMatch(/corrupt|not a database/);
  });

  it('waits for a lock, then says clearly that another program holds it', async () => {
    const file = path.join(dir, 'wharf.db');
    const holder = new BetterSqlite3(file);
    holder.pragma('locking_mode = EXCLUSIVE');
    holder.exec('create table other_program (x); begin exclusive; insert into other_program values (1)');
    try {
      const started = Date.now();
      const error = await failure(openStore({ dataDir: dir, busyTimeoutMs: 300 }));
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
      expect(error.code).toBe('ESTORE');
      expect(error.message).toBe(`the database file ${file} is locked by another program (still locked after 300 ms); stop the other program or try again`);
    } finally {
      holder.close();
    }
    const store = await openStore({ dataDir: dir, busyTimeoutMs: 300 });
    await store.close();
  });

  it('waits for a writer that holds the lock at start (another worker migrating), then says so', async () => {
    await (await openStore({ dataDir: dir })).close();
    const writer = new BetterSqlite3(path.join(dir, 'wharf.db'));
    writer.exec('begin immediate');
    try {
      const error = await failure(openStore({ dataDir: dir, busyTimeoutMs: 200 }));
      expect(error.message).toMatch(/is locked by another program \(still locked after 200 ms\)/);
    } finally {
      writer.exec('rollback');
      writer.close();
    }
    await (await openStore({ dataDir: dir, busyTimeoutMs: 200 })).close();
  });

  it('turns a lock held during work into ESTORE, and recovers when it goes', async () => {
    const store = await openStore({ dataDir: dir, busyTimeoutMs: 200 });
    await store.accounts.add('alice', 'pw', { quota: 100 });
    const writer = new BetterSqlite3(store.location);
    writer.exec('begin immediate');
    try {
      const error = await failure(store.quota.reserve('alice', 10));
      expect(error.code).toBe('ESTORE');
      expect(error.message).toMatch(/is locked by another program/);
      expect((await store.quota.usage('alice')).bytesUsed).toBe(0); // readers still read (WAL)
    } finally {
      writer.exec('rollback');
      writer.close();
    }
    await store.quota.reserve('alice', 10);
    expect((await store.quota.usage('alice')).bytesUsed).toBe(10);
    await store.close();
  });

  it('says which folder it cannot create', async () => {
    await writeFile(path.join(dir, 'a-file'), '');
    const error = await failure(openStore({ dataDir: path.join(dir, 'a-file', 'data') }));
    expect(error.code).toBe('ESTORE');
    expect(error.message).toContain(`cannot create the data folder ${path.join(dir, 'a-file', 'data')}`);
  });
});

describe('database URLs', () => {
  it('refuses an unknown scheme with a UsageError naming it', async () => {
    const error = await failure(openStore({ dataDir: '.', url: 'mongodb://localhost/wharf' }));
    expect(error).toBeInstanceOf(UsageError);
    expect(error.message).toContain('unknown database scheme "mongodb"');
  });

  it('understands postgres, postgresql, mysql and mariadb, and hides passwords', () => {
    expect(parseDatabaseUrl('postgres://u:secret@db.example/wharf', '.')).toEqual({
      dialect: 'postgres',
      target: 'postgres://u:secret@db.example/wharf',
      location: 'postgres://u:***@db.example/wharf',
    });
    expect(parseDatabaseUrl('postgresql://db/wharf?options=-c%20search_path%3Dx', '.').dialect).toBe('postgres');
    expect(parseDatabaseUrl('mysql://root@db:3306/wharf', '.').dialect).toBe('mysql');
    const maria = parseDatabaseUrl('mariadb://root:pw@db/wharf', '.');
    expect(maria).toMatchObject({ dialect: 'mysql', target: 'mysql://root:pw@db/wharf', location: 'mysql://root:***@db/wharf' });
  });

  it('reports an unreachable server in one sentence', async () => {
    for (const url of ['postgres://postgres@127.0.0.1:1/test', 'mysql://root@127.0.0.1:1/test']) {
      const error = await failure(openStore({ dataDir: '.', url, connectTimeoutMs: 2000 }));
      expect(error.code).toBe('ESTORE');
      expect(error.message).toBe(`cannot reach the database server at ${url}: connection refused`);
    }
  });
});
