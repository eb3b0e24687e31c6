/**
 * The last step of `wharf web get` without --force: a file that appears at the target an instant
 * before the download is given its name is not replaced. To hit that instant without a timing
 * race, the file system's link() and rename() are wrapped so the file is written at the target
 * right before the client's call that names the download (whichever of the two it uses).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import type * as FsPromises from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { WebClient, partialPathFor } from '../../../src/services/web/client.js';
import { makeSite, startWeb, type Site, type StartedWeb } from './support.js';

const justBefore = vi.hoisted(() => ({ naming: undefined as ((target: string) => void) | undefined, noHardLinks: false }));

vi.mock('node:fs/promises', async (importOriginal) => {
  const real = await importOriginal<typeof FsPromises>();
  const naming = (target: unknown): void => justBefore.naming?.(String(target));
  return {
    ...real,
    link: async (from: string, to: string) => {
      // A file system without hard links (vfat) refuses link() with EPERM.
      if (justBefore.noHardLinks) throw Object.assign(new Error(`EPERM: operation not permitted, link '${from}' -> '${to}'`), { code: 'EPERM' });
      naming(to);
      return real.link(from, to);
    },
    rename: async (from: string, to: string) => (naming(to), real.rename(from, to)),
  };
});

const site: Site = makeSite();
const out = mkdtempSync(join(tmpdir(), 'wharf-web-finish-'));
let web: StartedWeb;

beforeAll(async () => {
  web = await startWeb(site.root);
});
afterAll(async () => {
  await web.stop();
  rmSync(site.base, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
});

/** Get /files/one.txt into `target` while another writer puts a file there right before it is named. */
async function getWhileAFileAppears(target: string, options: { force?: boolean } = {}): Promise<unknown> {
  justBefore.naming = (to) => {
    if (to === target) writeFileSync(target, 'written meanwhile\n');
  };
  const client = await WebClient.connect(web.url);
  try {
    return await client.get('/files/one.txt', target, options);
  } finally {
    justBefore.naming = undefined;
    await client.close();
  }
}

describe('WebClient.get: the finish never replaces a file that just appeared', () => {
  it('a file written at the target right before the download is named is kept, and the download is kept beside it', async () => {
    const target = join(out, 'raced.txt');
    await expect(getWhileAFileAppears(target)).rejects.toMatchObject({ code: 'ETAKEN', message: expect.stringContaining('appeared during the download') });
    expect(readFileSync(target, 'utf8')).toBe('written meanwhile\n');
    expect(readFileSync(partialPathFor(target), 'utf8')).toBe('1\n');
  });

  it('with force, the download replaces it', async () => {
    const target = join(out, 'forced.txt');
    await getWhileAFileAppears(target, { force: true });
    expect(readFileSync(target, 'utf8')).toBe('1\n');
    expect(existsSync(partialPathFor(target))).toBe(false);
  });

  it('on a file system without hard links the download still gets its name (an exclusive create reserves it)', async () => {
    justBefore.noHardLinks = true;
    const target = join(out, 'vfat.txt');
    const client = await WebClient.connect(web.url);
    try {
      await client.get('/files/one.txt', target);
      expect(readFileSync(target, 'utf8')).toBe('1\n');
      expect(existsSync(partialPathFor(target))).toBe(false);
    } finally {
      justBefore.noHardLinks = false;
      await client.close();
    }
  });
});
