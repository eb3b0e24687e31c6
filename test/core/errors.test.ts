import { readFile, readdir } from 'node:fs/promises';
import { constants } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ERROR_CODES, UsageError, WharfError, codeForErrno, isErrnoException, isWharfErrorCode } from '../../src/core/errors.js';

const SRC = join(import.meta.dirname, '../../src');

async function sourceFiles(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile() && entry.name.endsWith('.ts')).map((entry) => join(entry.parentPath, entry.name));
}

// Node's DNS errors carry codes of their own, beside errno's.
const DNS_CODES = ['ENODATA', 'EFORMERR', 'ESERVFAIL', 'ENOTFOUND', 'ENOTIMP', 'EREFUSED', 'EBADQUERY', 'EBADNAME', 'EBADFAMILY', 'EBADRESP', 'ETIMEOUT', 'EOF', 'EFILE', 'ENOMEM', 'EDESTRUCTION', 'EBADSTR', 'EBADFLAGS', 'ENONAME', 'EBADHINTS', 'ENOTINITIALIZED', 'ECANCELLED', 'EAI_AGAIN'];

describe('the error catalogue', () => {
  const codes = Object.keys(ERROR_CODES) as Array<keyof typeof ERROR_CODES>;

  it('gives every code a sentence', () => {
    for (const code of codes) {
      expect(ERROR_CODES[code].length, code).toBeGreaterThan(15);
      expect(ERROR_CODES[code], code).not.toMatch(/\.$/);
    }
  });

  it('has no code that is also an operating-system or DNS error code', () => {
    const system = new Set([...Object.keys(constants.errno), ...DNS_CODES]);
    expect(codes.filter((code) => system.has(code))).toEqual([]);
  });

  it('uses every code somewhere in src/ outside the catalogue', async () => {
    const files = (await sourceFiles(SRC)).filter((file) => !file.endsWith(join('core', 'errors.ts')));
    const text = (await Promise.all(files.map((file) => readFile(file, 'utf8')))).join('\n');
    expect(codes.filter((code) => !text.includes(`'${code}'`))).toEqual([]);
  });

  it('rejects an unknown code at compile time', () => {
    // @ts-expect-error: 'ENOENT' is the operating system's, not in the catalogue (typecheck fails if it were accepted)
    const error = new WharfError('ENOENT', 'no such file');
    expect(isWharfErrorCode(error.code)).toBe(false);
    expect(isWharfErrorCode('EMISSING')).toBe(true);
    expect(isWharfErrorCode('toString')).toBe(false);
  });
});

describe('isErrnoException', () => {
  it('accepts an error from the file system', async () => {
    const error = await readFile('/nonexistent/wharf').catch((e: unknown) => e);
    expect(isErrnoException(error)).toBe(true);
    expect(codeForErrno((error as NodeJS.ErrnoException).code)).toBe('EMISSING');
  });

  it('does not take a WharfError for one, whatever its code', () => {
    expect(isErrnoException(new WharfError('EDENIED', 'no permission'))).toBe(false);
    expect(isErrnoException(new UsageError('bad flag'))).toBe(false);
  });

  it('maps the errno codes wharf words differently, and the rest to the fallback', () => {
    expect(codeForErrno('EADDRINUSE')).toBe('EPORTINUSE');
    expect(codeForErrno('ECONNREFUSED')).toBe('ENOLISTENER');
    expect(codeForErrno('ENOSPC')).toBe('ESYSTEM');
    expect(codeForErrno(undefined, 'ECONNECT')).toBe('ECONNECT');
  });
});
