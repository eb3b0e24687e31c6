import { describe, expect, it } from 'vitest';
import { WharfError } from '../../src/core/errors.js';
import { openStore } from '../../src/store/index.js';
import { testDatabases } from './databases.js';

const postgres = testDatabases.find((database) => database.dialect === 'postgres')!;
const mysql = testDatabases.find((database) => database.dialect === 'mysql')!;

async function failure(url: string): Promise<WharfError> {
  const error = await openStore({ dataDir: '.', url }).then(
    async (store) => {
      await store.close();
      return undefined;
    },
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(WharfError);
  return error as WharfError;
}

describe.skipIf(!postgres.available)(`server errors on ${postgres.label}`, () => {
  it('names a database that does not exist, and a search_path without a schema', async () => {
    const fresh = await postgres.fresh();
    try {
      const url = new URL(fresh.url!);
      url.pathname = '/wharf_no_such_database';
      expect((await failure(url.toString())).message).toMatch(/has no such database \(database "wharf_no_such_database" does not exist\)$/);
      url.pathname = '/test';
      url.searchParams.set('options', '-c search_path=wharf_no_such_schema');
      expect((await failure(url.toString())).message).toMatch(/the search_path names no existing schema/);
    } finally {
      await fresh.drop();
    }
  });
});

describe.skipIf(!mysql.available)(`server errors on ${mysql.label}`, () => {
  it('names a database that does not exist, and a refused login, without the password', async () => {
    const fresh = await mysql.fresh();
    try {
      const url = new URL(fresh.url!);
      url.pathname = '/wharf_no_such_database';
      expect((await failure(url.toString())).message).toMatch(/has no such database \(Unknown database 'wharf_no_such_database'\)$/);
      url.username = 'wharf_nobody';
      url.password = 'sekrit';
      const refused = await failure(url.toString());
      expect(refused.message).toMatch(/refused the login/);
      expect(refused.message).not.toContain('sekrit');
    } finally {
      await fresh.drop();
    }
  });
});
