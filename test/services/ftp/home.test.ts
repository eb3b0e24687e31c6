import { mkdir, mkdtemp, readdir, rename, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { FtpReplyError, Home } from '../../../src/services/ftp/files.js';

// A folder of the home swapped for a symlink to somewhere else after the session resolved a
// path through it (the race a local user with write access to the home can try): what the
// session then opens must not be outside the home.
describe('Home: a folder swapped for a symlink after the path was resolved', () => {
  let base: string;
  let home: Home;
  let outside: string;

  beforeEach(async () => {
    base = await mkdtemp(join(tmpdir(), 'wharf-home-'));
    outside = join(base, 'outside');
    await mkdir(outside);
    await writeFile(join(outside, 'secret.txt'), 'not yours');
    await mkdir(join(base, 'home', 'docs'), { recursive: true });
    await writeFile(join(base, 'home', 'docs', 'secret.txt'), 'yours');
    home = await Home.open(join(base, 'home'), { writable: true, owner: 'alice' });
  });
  afterEach(() => rm(base, { recursive: true, force: true }));

  async function swapDocsForLink(): Promise<void> {
    await rename(join(base, 'home', 'docs'), join(base, 'home', 'docs-moved'));
    await symlink(outside, join(base, 'home', 'docs'));
  }

  it('refuses to read a file that is now outside the home', async () => {
    const entry = await home.existing(['docs', 'secret.txt'], '/docs/secret.txt');
    await swapDocsForLink();
    await expect(home.openForReading(entry.real)).rejects.toBeInstanceOf(Error);
  });

  it('refuses to create a file outside the home, and leaves nothing there', async () => {
    const target = await home.creatable(['docs', 'new.txt'], '/docs/new.txt');
    await swapDocsForLink();
    const refused = await home.createFile(target.real).then(
      async (handle) => {
        await handle.close();
        return undefined;
      },
      (error: unknown) => error,
    );
    expect(refused).toBeInstanceOf(FtpReplyError);
    expect((refused as FtpReplyError).code).toBe(550);
    expect((await readdir(outside)).sort()).toEqual(['secret.txt']);
  });
});
