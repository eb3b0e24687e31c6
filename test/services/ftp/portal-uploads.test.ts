/** The portal's resumable uploads over real HTTP: chunks, resume, offsets, quota, no clobbering, expiry. */
import { createHash, randomBytes } from 'node:crypto';
import http from 'node:http';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { UPLOADS_FOLDER } from '../../../src/services/ftp/portal/uploads.js';
import { startFilesApi, type FilesApi } from './portal-support.js';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

interface UploadState {
  id: string;
  path: string;
  size: number;
  received: number;
}

let api: FilesApi | undefined;
afterEach(async () => {
  await api?.close();
  api = undefined;
});

async function begin(files: FilesApi, path: string, size: number, replace = false) {
  return files.json<UploadState & { code?: string; error?: string }>('POST', '/upload', { path, size, replace });
}

async function usedBytes(files: FilesApi): Promise<number> {
  return (await files.store.quota.usage('alice')).bytesUsed;
}

/** Whatever the home holds, the server's hidden upload files included. */
async function homeNames(files: FilesApi): Promise<string[]> {
  const top = await readdir(files.home);
  const hidden = top.includes(UPLOADS_FOLDER) ? (await readdir(join(files.home, UPLOADS_FOLDER))).map((n) => `${UPLOADS_FOLDER}/${n}`) : [];
  return [...top.filter((n) => n !== UPLOADS_FOLDER), ...hidden].sort();
}

/** A PUT whose connection is cut after `sendBytes` of the announced `length`. */
function droppedChunk(files: FilesApi, id: string, offset: number, chunk: Buffer, sendBytes: number): Promise<void> {
  return new Promise((resolve) => {
    const url = new URL(`${files.server.base}/upload/${id}?offset=${offset}`);
    const request = http.request(url, { method: 'PUT', headers: { 'Content-Length': String(chunk.length) } });
    request.on('error', () => resolve());
    request.write(chunk.subarray(0, sendBytes), () => setTimeout(() => {
      request.destroy();
      setTimeout(resolve, 50);
    }, 50));
  });
}

describe('portal uploads', () => {
  it('takes a file in chunks, never shows it under its name before finish, and counts it in the quota', async () => {
    api = await startFilesApi({ maxChunkBytes: 64 * 1024 });
    const data = randomBytes(150_000);
    const started = await begin(api, '/big.bin', data.length);
    expect(started.status).toBe(201);
    const id = started.body.id;
    for (let offset = 0; offset < data.length; offset += 64 * 1024) {
      const put = await api.call('PUT', `/upload/${id}?offset=${offset}`, data.subarray(offset, offset + 64 * 1024));
      expect(put.status).toBe(200);
      expect((await api.json('GET', '/list?path=/')).body).toEqual({ path: '/', entries: [] });
    }
    expect((await api.json<UploadState>('GET', `/upload/${id}`)).body.received).toBe(data.length);
    expect(await usedBytes(api)).toBe(data.length);
    expect((await api.json('POST', `/upload/${id}/finish`)).status).toBe(200);
    expect(sha256(await readFile(join(api.home, 'big.bin')))).toBe(sha256(data));
    expect(await homeNames(api)).toEqual(['big.bin']);
    expect(await usedBytes(api)).toBe(data.length);
    expect((await api.json('GET', `/upload/${id}`)).status).toBe(404);
  });

  it('resumes after a chunk dropped mid-way: the server says what it kept, the rest follows', async () => {
    api = await startFilesApi({ maxChunkBytes: 100_000 });
    const data = randomBytes(120_000);
    const { id } = (await begin(api, '/resumed.bin', data.length)).body;
    await droppedChunk(api, id, 0, data.subarray(0, 100_000), 30_000);
    const kept = (await api.json<UploadState>('GET', `/upload/${id}`)).body.received;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThanOrEqual(30_000);
    expect(await usedBytes(api)).toBe(kept);
    expect((await api.call('PUT', `/upload/${id}?offset=${kept}`, data.subarray(kept, kept + 100_000))).status).toBe(200);
    const at = kept + 100_000 > data.length ? data.length : kept + 100_000;
    if (at < data.length) expect((await api.call('PUT', `/upload/${id}?offset=${at}`, data.subarray(at))).status).toBe(200);
    expect((await api.json('POST', `/upload/${id}/finish`)).status).toBe(200);
    expect(sha256(await readFile(join(api.home, 'resumed.bin')))).toBe(sha256(data));
    expect(await usedBytes(api)).toBe(data.length);
  });

  it('refuses a wrong offset, a chunk past the announced size, a finish before the end, another account’s upload', async () => {
    api = await startFilesApi({ maxChunkBytes: 1000 });
    const { id } = (await begin(api, '/a.bin', 10)).body;
    const gap = await api.json<{ code: string }>('PUT', `/upload/${id}?offset=5`, new Uint8Array(5));
    expect([gap.status, gap.body.code]).toEqual([409, 'ERESUME']);
    expect((await api.call('PUT', `/upload/${id}?offset=0`, new Uint8Array(11))).status).toBe(400);
    expect((await api.call('PUT', `/upload/${id}?offset=0`, new Uint8Array(1001))).status).toBe(413);
    expect((await api.call('PUT', `/upload/${id}?offset=-1`, new Uint8Array(1))).status).toBe(400);
    expect((await api.call('PUT', `/upload/${id}?offset=0`, new Uint8Array(4))).status).toBe(200);
    expect((await api.call('PUT', `/upload/${id}?offset=0`, new Uint8Array(4))).status).toBe(409);
    expect((await api.json('POST', `/upload/${id}/finish`)).status).toBe(409);
    api.server.user = { name: 'bob', admin: false };
    expect((await api.json('GET', `/upload/${id}`)).status).toBe(404);
    expect((await api.json('DELETE', `/upload/${id}`)).status).toBe(404);
    api.server.user = { name: 'alice', admin: false };
    expect((await api.json('DELETE', `/upload/${id}`)).status).toBe(200);
    expect(await homeNames(api)).toEqual([]);
    expect(await usedBytes(api)).toBe(0);
  });

  it('refuses an upload over quota before a byte is stored, and a chunk that would pass it', async () => {
    api = await startFilesApi({ quota: 1000 });
    const over = await begin(api, '/huge.bin', 1001);
    expect(over.status).toBe(507);
    expect(over.body.code).toBe('EQUOTA');
    expect(over.body.error).toMatch(/quota/);
    expect(await homeNames(api)).toEqual([]);
    expect(await usedBytes(api)).toBe(0);
    // Two uploads that each fit but not together: the second is refused when announced.
    const first = (await begin(api, '/first.bin', 600)).body;
    expect((await begin(api, '/second.bin', 600)).status).toBe(507);
    expect((await api.json('DELETE', `/upload/${first.id}`)).status).toBe(200);
    // Room when announced, taken meanwhile (by FTP, say): the chunk is refused before it is written.
    const { id } = (await begin(api, '/fits.bin', 800)).body;
    await api.store.quota.reserve('alice', 500);
    const chunk = await api.json<{ code: string }>('PUT', `/upload/${id}?offset=0`, new Uint8Array(800));
    expect([chunk.status, chunk.body.code]).toEqual([507, 'EQUOTA']);
    expect((await api.json<UploadState>('GET', `/upload/${id}`)).body.received).toBe(0);
    expect(await usedBytes(api)).toBe(500);
    expect((await api.json('DELETE', `/upload/${id}`)).status).toBe(200);
    expect(await homeNames(api)).toEqual([]);
  });

  it('never replaces an existing file unless asked, and gives the old file’s bytes back when it does', async () => {
    api = await startFilesApi();
    await writeFile(join(api.home, 'keep.txt'), 'old!');
    await api.store.quota.setUsed('alice', 4);
    const taken = await begin(api, '/keep.txt', 3);
    expect(taken.status).toBe(409);
    // Announced while free, taken before the finish: the finish refuses, the file stays.
    const { id } = (await begin(api, '/later.txt', 3)).body;
    expect((await api.call('PUT', `/upload/${id}?offset=0`, new TextEncoder().encode('new'))).status).toBe(200);
    await writeFile(join(api.home, 'later.txt'), 'first');
    expect((await api.json('POST', `/upload/${id}/finish`)).status).toBe(409);
    expect(await readFile(join(api.home, 'later.txt'), 'utf8')).toBe('first');
    expect((await api.json('POST', `/upload/${id}/finish`, { replace: true })).status).toBe(200);
    expect(await readFile(join(api.home, 'later.txt'), 'utf8')).toBe('new');
    const replacing = (await begin(api, '/keep.txt', 3, true)).body;
    expect((await api.call('PUT', `/upload/${replacing.id}?offset=0`, new TextEncoder().encode('abc'))).status).toBe(200);
    expect((await api.json('POST', `/upload/${replacing.id}/finish`)).status).toBe(200);
    expect(await readFile(join(api.home, 'keep.txt'), 'utf8')).toBe('abc');
    // keep.txt's 4 bytes, +3 and +3 uploaded, -5 for the later.txt replaced, -4 for the old keep.txt.
    expect(await usedBytes(api)).toBe(4 + 3 + 3 - 5 - 4);
  });

  it('cancels an upload whose chunk is still arriving: removed once the chunk ends', async () => {
    api = await startFilesApi();
    const { id } = (await begin(api, '/cancelled.bin', 100_000)).body;
    const url = new URL(`${api.server.base}/upload/${id}?offset=0`);
    const request = http.request(url, { method: 'PUT', headers: { 'Content-Length': '100000' } });
    request.on('error', () => {});
    await new Promise<void>((done) => request.write(Buffer.alloc(10_000), () => setTimeout(done, 50)));
    expect((await api.json('DELETE', `/upload/${id}`)).status).toBe(200);
    expect((await api.json('GET', `/upload/${id}`)).status).toBe(404);
    request.destroy();
    await expect.poll(() => homeNames(api as FilesApi)).toEqual([]);
    await expect.poll(() => usedBytes(api as FilesApi)).toBe(0);
  });

  it('refuses a finish while FTP uploads the same file', async () => {
    api = await startFilesApi();
    const { id } = (await begin(api, '/busy.txt', 0)).body;
    api.uploadLocks.add(join(api.home, 'busy.txt'));
    expect((await api.json('POST', `/upload/${id}/finish`)).status).toBe(409);
    api.uploadLocks.clear();
    expect((await api.json('POST', `/upload/${id}/finish`)).status).toBe(200);
  });

  it('removes a stale upload with its bytes, and one left by a process that is gone', async () => {
    api = await startFilesApi({ expireMs: 60_000 });
    // A partial of a process that is gone (no pid has 7 nines): removed at the home's first upload here.
    await mkdir(join(api.home, UPLOADS_FOLDER));
    await writeFile(join(api.home, UPLOADS_FOLDER, `9999999.${'ab'.repeat(16)}`), 'lost!');
    await api.store.quota.setUsed('alice', 5);
    const { id } = (await begin(api, '/stale.bin', 10)).body;
    expect(await usedBytes(api)).toBe(0);
    expect(await homeNames(api)).toEqual([`${UPLOADS_FOLDER}/${process.pid}.${id}`]);
    expect((await api.call('PUT', `/upload/${id}?offset=0`, new Uint8Array(6))).status).toBe(200);
    expect(await usedBytes(api)).toBe(6);
    expect(await api.files.uploads.expire(Date.now() + 30_000)).toBe(0);
    expect(await api.files.uploads.expire(Date.now() + 61_000)).toBe(1);
    expect(await usedBytes(api)).toBe(0);
    expect(await homeNames(api)).toEqual([]);
    expect((await api.json('GET', `/upload/${id}`)).status).toBe(404);
  });
});
