/**
 * The files section's uploads under parallel announcements (a page drops several files at once,
 * and each starts its upload at the same moment; a hostile page sends many). Found in review.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { setTimeout as delay } from 'node:timers/promises';
import { silentLogger } from '../../src/core/logger.js';
import { Home } from '../../src/services/ftp/files.js';
import { browserEntryPath } from '../../src/services/ftp/portal/paths.js';
import { PortalUploads, UPLOADS_FOLDER } from '../../src/services/ftp/portal/uploads.js';
import { startFilesApi, type FilesApi } from '../services/ftp/portal-support.js';

let api: FilesApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

interface Begun {
  id: string;
  code?: string;
}

describe('portal uploads announced in parallel', () => {
  it('the first uploads into a home after a start are never swept away by that home’s clean-up', async () => {
    api = await startFilesApi();
    // A dead process's partial, so that the clean-up has something to do and takes its time.
    await mkdir(join(api.home, UPLOADS_FOLDER));
    for (let i = 0; i < 20; i++) await writeFile(join(api.home, UPLOADS_FOLDER, `9999999.${i.toString(16).padStart(32, '0')}`), 'x');
    const files = api;
    const begun = await Promise.all(Array.from({ length: 12 }, (_, i) => files.json<Begun>('POST', '/upload', { path: `/dropped-${i}.txt`, size: 3 })));
    expect(begun.map((b) => b.status)).toEqual(begun.map(() => 201));
    const chunks = await Promise.all(begun.map((b) => files.call('PUT', `/upload/${b.body.id}?offset=0`, new TextEncoder().encode('abc'))));
    expect(chunks.map((c) => c.status)).toEqual(chunks.map(() => 200));
    const finished = await Promise.all(begun.map((b) => files.json('POST', `/upload/${b.body.id}/finish`)));
    expect(finished.map((f) => f.status)).toEqual(finished.map(() => 200));
  });

  it('a clean-up that reads the folder late does not remove an upload announced meanwhile', async () => {
    api = await startFilesApi();
    const quota = api.store.quota;
    const uploads = new PortalUploads({ quota, logger: silentLogger(), uploadLocks: new Set(), maxChunkBytes: 1024, expireMs: 60_000, maxUploadsPerAccount: 32 });
    try {
      const home = await Home.open(api.home, { writable: true, owner: 'alice' });
      // The folder is read a little late (a busy disk): the second announcement creates its
      // partial file before the first one's clean-up reads the folder.
      const names = home.names.bind(home);
      home.names = async (folder: string) => {
        await delay(100);
        return names(folder);
      };
      const [first, second] = await Promise.all([
        uploads.begin('alice', home, browserEntryPath('/a.txt'), 3, false),
        delay(20).then(() => uploads.begin('alice', home, browserEntryPath('/b.txt'), 3, false)),
      ]);
      for (const upload of [first, second]) {
        expect(await home.statIfPresent(join(api.home, UPLOADS_FOLDER, `${process.pid}.${upload.id}`))).toBeDefined();
      }
    } finally {
      uploads.close();
    }
  });

  it('keeps the bound on open uploads per account when they are announced all at once', async () => {
    api = await startFilesApi();
    const files = api;
    const begun = await Promise.all(Array.from({ length: 48 }, (_, i) => files.json<Begun>('POST', '/upload', { path: `/many-${i}.bin`, size: 1 })));
    const accepted = begun.filter((b) => b.status === 201).length;
    expect(accepted).toBe(32);
    expect(begun.filter((b) => b.status !== 201).every((b) => b.body.code === 'EOVERLOAD')).toBe(true);
  });

  it('refuses announcements that fit the quota one by one but not together, however parallel', async () => {
    api = await startFilesApi({ quota: 1000 });
    const files = api;
    const begun = await Promise.all(Array.from({ length: 6 }, (_, i) => files.json<Begun>('POST', '/upload', { path: `/half-${i}.bin`, size: 600 })));
    expect(begun.filter((b) => b.status === 201)).toHaveLength(1);
    expect(begun.filter((b) => b.status === 507)).toHaveLength(5);
  });
});
