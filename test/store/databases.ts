/**
 * The databases the store suite runs on: SQLite always; PostgreSQL and MariaDB/MySQL when a
 * server answers (127.0.0.1, trust auth / root without password, database `test`), otherwise the
 * suite for them is skipped with the reason in its name. WHARF_TEST_POSTGRES_URL and
 * WHARF_TEST_MYSQL_URL point elsewhere.
 *
 * Every test gets a database of its own so that parallel runs and leftovers never collide:
 * a temporary folder (SQLite), a schema `wharf_test_…` selected through search_path
 * (PostgreSQL), or a database `wharf_test_…` (MySQL), dropped afterwards.
 */
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import mysql from 'mysql2/promise';
import pg from 'pg';
import type { StoreDialect } from '../../src/store/index.js';

export interface FreshDatabase {
  dataDir: string;
  /** undefined for SQLite in dataDir. */
  url: string | undefined;
  drop(): Promise<void>;
}

export interface TestDatabase {
  dialect: StoreDialect;
  available: boolean;
  /** The describe name: the dialect, and why it is skipped when it is. */
  label: string;
  fresh(): Promise<FreshDatabase>;
}

function uniqueName(): string {
  return `wharf_test_${process.pid}_${randomBytes(4).toString('hex')}`;
}

async function tempDir(): Promise<string> {
  return mkdtemp(path.join(tmpdir(), 'wharf-store-'));
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message || ((error as { code?: string }).code ?? String(error)) : String(error);
  return message.split('\n')[0] ?? message;
}

const sqlite: TestDatabase = {
  dialect: 'sqlite',
  available: true,
  label: 'sqlite',
  async fresh() {
    const dataDir = await tempDir();
    return { dataDir, url: undefined, drop: () => rm(dataDir, { recursive: true, force: true }) };
  },
};

async function probePostgres(): Promise<TestDatabase> {
  const candidates = process.env.WHARF_TEST_POSTGRES_URL
    ? [process.env.WHARF_TEST_POSTGRES_URL]
    : ['postgres://postgres@127.0.0.1:5432/test', 'postgres://root@127.0.0.1:5432/test'];
  let reason = '';
  for (const base of candidates) {
    const client = new pg.Client({ connectionString: base, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('select 1');
      await client.end();
      const admin = async <T>(work: (c: pg.Client) => Promise<T>): Promise<T> => {
        const c = new pg.Client({ connectionString: base, connectionTimeoutMillis: 5000 });
        await c.connect();
        try {
          return await work(c);
        } finally {
          await c.end();
        }
      };
      return {
        dialect: 'postgres',
        available: true,
        label: 'postgres',
        async fresh() {
          const schema = uniqueName();
          await admin((c) => c.query(`create schema ${schema}`));
          const url = new URL(base);
          url.searchParams.set('options', `-c search_path=${schema}`);
          const dataDir = await tempDir();
          return {
            dataDir,
            url: url.toString(),
            async drop() {
              await admin((c) => c.query(`drop schema if exists ${schema} cascade`));
              await rm(dataDir, { recursive: true, force: true });
            },
          };
        },
      };
    } catch (error) {
      reason = `${base}: ${firstLine(error)}`;
      await client.end().catch(() => undefined);
    }
  }
  return unavailable('postgres', reason);
}

async function probeMysql(): Promise<TestDatabase> {
  const base = process.env.WHARF_TEST_MYSQL_URL ?? 'mysql://root@127.0.0.1:3306/test';
  try {
    const probe = await mysql.createConnection({ uri: base, connectTimeout: 2000 });
    await probe.query('select 1');
    await probe.end();
  } catch (error) {
    return unavailable('mysql', `${base}: ${firstLine(error)}`);
  }
  const admin = async (statement: string): Promise<void> => {
    const c = await mysql.createConnection({ uri: base, connectTimeout: 5000 });
    try {
      await c.query(statement);
    } finally {
      await c.end();
    }
  };
  return {
    dialect: 'mysql',
    available: true,
    label: 'mysql',
    async fresh() {
      const database = uniqueName();
      await admin(`create database ${database} character set utf8mb4`);
      const url = new URL(base);
      url.pathname = `/${database}`;
      const dataDir = await tempDir();
      return {
        dataDir,
        url: url.toString(),
        async drop() {
          await admin(`drop database if exists ${database}`);
          await rm(dataDir, { recursive: true, force: true });
        },
      };
    },
  };
}

function unavailable(dialect: StoreDialect, reason: string): TestDatabase {
  return {
    dialect,
    available: false,
    label: `${dialect} (skipped: no server: ${reason})`,
    fresh: () => Promise.reject(new Error(`${dialect} is not reachable: ${reason}`)),
  };
}

export const testDatabases: TestDatabase[] = [sqlite, await probePostgres(), await probeMysql()];
