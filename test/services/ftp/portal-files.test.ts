/** The portal's files API over real HTTP: browse, download with ranges, folders, rename, delete, quota, hostile paths. */
import { mkdir, readFile, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFilesApi, type FilesApi } from './portal-support.js';

const q = encodeURIComponent;

describe('portal files API', () => {
  let api: FilesApi;
  beforeAll(async () => {
    api = await startFilesApi();
    await mkdir(join(api.home, 'docs'));
    await writeFile(join(api.home, 'docs', 'report.txt'), '0123456789');
    await writeFile(join(api.home, 'b.txt'), 'bee');
    await writeFile(join(api.home, '.wharf-partial.b.txt'), 'hidden');
    await writeFile(join(api.outside, 'secret.txt'), 'not yours');
  });
  afterAll(() => api.close());

  it('lists a folder: folders first, then files, with size and time; the server’s own files hidden', async () => {
    const { status, body } = await api.json<{ path: string; entries: Array<{ name: string; type: string; size: number; mtime: string }> }>('GET', '/list?path=/');
    expect(status).toBe(200);
    expect(body.entries.map((e) => [e.name, e.type])).toEqual([
      ['docs', 'folder'],
      ['b.txt', 'file'],
    ]);
    expect(body.entries[1]?.size).toBe(3);
    expect(Date.parse(body.entries[1]?.mtime ?? '')).toBeGreaterThan(0);
  });

  it('downloads a file as an attachment, never as something a browser renders', async () => {
    const response = await api.call('GET', `/file?path=${q('/docs/report.txt')}`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe('0123456789');
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="report.txt"; filename*=UTF-8''report.txt`);
    expect(response.headers.get('etag')).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(response.headers.get('last-modified')).toBeTruthy();
    const again = await api.call('GET', `/file?path=${q('/docs/report.txt')}`, undefined, { 'If-None-Match': response.headers.get('etag') ?? '' });
    expect(again.status).toBe(304);
  });

  it('answers one range with 206, a range past the end with 416, several ranges with the whole file', async () => {
    const path = `/file?path=${q('/docs/report.txt')}`;
    const part = await api.call('GET', path, undefined, { Range: 'bytes=2-5' });
    expect(part.status).toBe(206);
    expect(part.headers.get('content-range')).toBe('bytes 2-5/10');
    expect(await part.text()).toBe('2345');
    const tail = await api.call('GET', path, undefined, { Range: 'bytes=-3' });
    expect([tail.status, await tail.text()]).toEqual([206, '789']);
    const open = await api.call('GET', path, undefined, { Range: 'bytes=7-' });
    expect([open.status, await open.text()]).toEqual([206, '789']);
    const bad = await api.call('GET', path, undefined, { Range: 'bytes=10-20' });
    expect(bad.status).toBe(416);
    expect(bad.headers.get('content-range')).toBe('bytes */10');
    const many = await api.call('GET', path, undefined, { Range: 'bytes=0-1,3-4' });
    expect([many.status, await many.text()]).toEqual([200, '0123456789']);
  });

  it('makes a folder, renames without clobbering, deletes a file and an empty folder, refuses a non-empty one', async () => {
    expect((await api.json('POST', '/folder', { path: '/new' })).status).toBe(201);
    expect((await stat(join(api.home, 'new'))).isDirectory()).toBe(true);
    expect((await api.json('POST', '/folder', { path: '/new' })).status).toBe(409);
    await writeFile(join(api.home, 'one.txt'), 'one');
    await writeFile(join(api.home, 'two.txt'), 'two');
    const clobber = await api.json('POST', '/rename', { from: '/one.txt', to: '/two.txt' });
    expect(clobber.status).toBe(409);
    expect(await readFile(join(api.home, 'two.txt'), 'utf8')).toBe('two');
    expect((await api.json('POST', '/rename', { from: '/one.txt', to: '/new/uno.txt' })).status).toBe(200);
    expect(await readFile(join(api.home, 'new', 'uno.txt'), 'utf8')).toBe('one');
    expect((await api.json('POST', '/rename', { from: '/new', to: '/new/inner' })).status).toBe(400);
    const full = await api.json<{ error: string; code: string }>('DELETE', `/entry?path=${q('/new')}`);
    expect(full.status).toBe(409);
    expect(full.body.error).toMatch(/not empty/);
    expect((await api.json('DELETE', `/entry?path=${q('/new/uno.txt')}`)).status).toBe(200);
    expect((await api.json('DELETE', `/entry?path=${q('/new')}`)).status).toBe(200);
    expect((await api.json('DELETE', `/entry?path=${q('/new')}`)).status).toBe(404);
    expect(await readdir(api.home)).not.toContain('new');
  });

  it('gives a deleted file’s bytes back to the quota', async () => {
    await api.store.quota.setUsed('alice', 1000);
    await writeFile(join(api.home, 'gone.txt'), 'x'.repeat(100));
    expect((await api.json('DELETE', `/entry?path=${q('/gone.txt')}`)).status).toBe(200);
    const { body } = await api.json<{ used: number; limit: number }>('GET', '/quota');
    expect(body.used).toBe(900);
    expect(body.limit).toBeGreaterThan(0);
  });

  it('keeps a file named like markup as a name, round trip', async () => {
    const name = '<img src=x onerror=alert(1)>.txt';
    await writeFile(join(api.home, name), 'plain');
    const { body } = await api.json<{ entries: Array<{ name: string }> }>('GET', '/list?path=/');
    expect(body.entries.map((e) => e.name)).toContain(name);
    const response = await api.call('GET', `/file?path=${q(`/${name}`)}`);
    expect(await response.text()).toBe('plain');
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-disposition')).toBe(`attachment; filename="<img src=x onerror=alert(1)>.txt"; filename*=UTF-8''%3Cimg%20src%3Dx%20onerror%3Dalert%281%29%3E.txt`);
  });

  describe('paths that try to leave the home', () => {
    beforeAll(async () => {
      await symlink(api.outside, join(api.home, 'escape'));
      await symlink(join(api.outside, 'secret.txt'), join(api.home, 'secret-link.txt'));
    });
    const hostile = [
      '../outside/secret.txt',
      '/../outside/secret.txt',
      '/docs/../../outside/secret.txt',
      '..',
      '/./docs/report.txt',
      'docs\\..\\..\\outside\\secret.txt',
      '/escape/secret.txt',
      '/secret-link.txt',
      '/docs/report.txt\u0000.png',
      '/.wharf-partial.b.txt',
      '%2e%2e%2foutside%2fsecret.txt',
      '..%2Foutside%2Fsecret.txt',
      '/etc/passwd',
      `/${'a'.repeat(300)}`,
    ];
    it.each(hostile)('refuses %j everywhere with a 4xx and never touches the outside', async (path) => {
      const answers = [
        await api.call('GET', `/file?path=${q(path)}`),
        await api.call('GET', `/list?path=${q(path)}`),
        await api.call('DELETE', `/entry?path=${q(path)}`),
        await api.call('POST', '/folder', { path }),
        await api.call('POST', '/rename', { from: '/b.txt', to: path }),
        await api.call('POST', '/rename', { from: path, to: '/stolen.txt' }),
        await api.call('POST', '/upload', { path, size: 1 }),
      ];
      for (const answer of answers) {
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
        expect(await answer.text()).not.toContain('not yours');
      }
      expect(await readdir(api.outside)).toEqual(['secret.txt']);
      expect(await readFile(join(api.outside, 'secret.txt'), 'utf8')).toBe('not yours');
      expect(await readFile(join(api.home, 'b.txt'), 'utf8')).toBe('bee');
    });
    it('refuses a doubly encoded slash on the wire, and answers an unknown API with 404', async () => {
      const encoded = await fetch(`${api.server.base}/file?path=%252e%252e%252foutside%252fsecret.txt`);
      expect(encoded.status).toBe(400);
      expect((await api.call('GET', '/no-such-api')).status).toBe(404);
    });
  });

  it('refuses a visitor', async () => {
    api.server.user = undefined;
    try {
      expect((await api.json('GET', '/list?path=/')).status).toBe(401);
    } finally {
      api.server.user = { name: 'alice', admin: false };
    }
  });
});

describe('ftp client commands for the portal home', () => {
  it('names the real port and a reachable address', async () => {
    const { ftpClientCommands } = await import('../../../src/services/ftp/server.js');
    const commands = ftpClientCommands(2121, '0.0.0.0').map((c) => c.command);
    expect(commands).toContain('curl -u NAME ftp://127.0.0.1:2121/');
    expect(commands).toContain('curl -u NAME -T FILE ftp://127.0.0.1:2121/');
    expect(commands).toContain('lftp -u NAME -p 2121 127.0.0.1');
    expect(commands.some((c) => c.startsWith('wharf ftp put FILE --user NAME --host 127.0.0.1 --port 2121'))).toBe(true);
    expect(ftpClientCommands(21, '::1')[0]?.command).toBe('curl -u NAME ftp://[::1]:21/');
  });
});
