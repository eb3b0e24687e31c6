import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, symlinkSync, unlinkSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import net from 'node:net';
import type { TLSSocket } from 'node:tls';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { brotliDecompressSync, gunzipSync } from 'node:zlib';
import { pino } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { webConfigSchema } from '../../../src/services/web/server.js';
import { formatHttpDate } from '../../../src/services/web/protocol.js';
import { tempDataDir } from '../../helpers/cli.js';
import { waitFor } from '../../helpers/net.js';
import { BIG_TEXT, CSS, FIXTURES, makeSite, parseMultipart, rawExchange, request, startWeb, type Site, type StartedWeb } from './support.js';

let site: Site;
let web: StartedWeb;
const extra: StartedWeb[] = [];

beforeAll(async () => {
  site = makeSite();
  // A small cache limit, so big.bin (300 KiB) and big.txt take the streaming path.
  web = await startWeb(site.root, { cacheMaxFileBytes: 64 * 1024, listing: false });
});
afterAll(async () => {
  await web.stop();
  rmSync(site.base, { recursive: true, force: true });
});
afterEach(async () => {
  await Promise.all(extra.splice(0).map((w) => w.stop()));
});

async function another(overrides: Parameters<typeof startWeb>[1] = {}, root = site.root): Promise<StartedWeb> {
  const started = await startWeb(root, overrides);
  extra.push(started);
  return started;
}

describe('serving files', () => {
  it('serves / as index.html with the headers a cache needs', async () => {
    const res = await request(web.port, '/');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain('<h1>home</h1>');
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.headers['content-length']).toBe(String(res.body.length));
    expect(res.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(res.headers['last-modified']).toMatch(/ GMT$/);
    expect(res.headers['accept-ranges']).toBe('bytes');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers.vary).toBe('Accept-Encoding');
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect((await request(web.port, '/index.html')).body.equals(res.body)).toBe(true);
  });

  it('serves each type with its media type, byte for byte', async () => {
    const cases: Array<[string, string, Buffer]> = [
      ['/style.css', 'text/css; charset=utf-8', Buffer.from(CSS)],
      ['/app.js', 'text/javascript; charset=utf-8', readFileSync(join(site.root, 'app.js'))],
      ['/pixel.png', 'image/png', readFileSync(join(site.root, 'pixel.png'))],
      ['/data.bin', 'application/octet-stream', readFileSync(join(site.root, 'data.bin'))],
      ['/big.bin', 'application/octet-stream', site.big],
      ['/big.txt', 'text/plain; charset=utf-8', Buffer.from(BIG_TEXT)],
      ['/%E4%BD%A0%E5%A5%BD.txt', 'text/plain; charset=utf-8', Buffer.from('你好，世界\n')],
      ['/a%20b.txt', 'text/plain; charset=utf-8', Buffer.from('space\n')],
      ['/empty.txt', 'text/plain; charset=utf-8', Buffer.alloc(0)],
      ['/docs/', 'text/html; charset=utf-8', Buffer.from('<h1>docs</h1>\n')],
      ['/docs/guide.html?v=3', 'text/html; charset=utf-8', Buffer.from('<h1>guide</h1>\n')],
      ['/link-in.css', 'text/css; charset=utf-8', Buffer.from(CSS)],
      ['/.well-known/security.txt', 'text/plain; charset=utf-8', Buffer.from('Contact: mailto:security@example.com\n')],
    ];
    for (const [path, type, body] of cases) {
      for (let attempt = 0; attempt < 2; attempt++) {
        // Twice: the first read fills the cache, the second is answered from it.
        const res = await request(web.port, path);
        expect(res.status, path).toBe(200);
        expect(res.headers['content-type'], path).toBe(type);
        expect(res.headers['content-length'], path).toBe(String(body.length));
        expect(res.body.equals(body), path).toBe(true);
      }
    }
  });

  it('answers HEAD with the GET headers and no body', async () => {
    for (const path of ['/style.css', '/big.bin', '/nope']) {
      const get = await request(web.port, path);
      const head = await request(web.port, path, { method: 'HEAD' });
      expect(head.status).toBe(get.status);
      expect(head.body.length).toBe(0);
      expect(head.headers['content-length']).toBe(get.headers['content-length']);
      expect(head.headers.etag).toBe(get.headers.etag);
    }
  });

  it('refuses other methods with 405 and Allow', async () => {
    for (const method of ['POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS', 'PROPFIND']) {
      const res = await request(web.port, '/index.html', { method });
      expect(res.status, method).toBe(405);
      expect(res.headers.allow).toBe('GET, HEAD');
    }
    // A method Node's parser does not know is a malformed request.
    expect(await rawExchange(web.port, 'BREW / HTTP/1.1\r\nHost: x\r\n\r\n')).toMatch(/^HTTP\/1\.1 400/);
  });

  it('sends a folder without its slash to the slash, keeping the query', async () => {
    const res = await request(web.port, '/docs?x=1');
    expect(res.status).toBe(301);
    expect(res.headers.location).toBe('/docs/?x=1');
    expect((await request(web.port, '/files')).headers.location).toBe('/files/');
  });

  it('gives a helpful 404: the path, look-alikes, and why a folder is empty', async () => {
    const typo = await request(web.port, '/indx.html');
    expect(typo.status).toBe(404);
    expect(typo.headers['content-type']).toBe('text/html; charset=utf-8');
    const page = typo.body.toString();
    expect(page).toContain('/indx.html');
    expect(page).toContain('href="/index.html"');
    const nested = (await request(web.port, '/docs/Guide.htm')).body.toString();
    expect(nested).toContain('href="/docs/guide.html"');
    const folder = await request(web.port, '/files/');
    expect(folder.status).toBe(404);
    expect(folder.body.toString()).toContain('directory listing is off');
    const escaped = (await request(web.port, '/%3Cscript%3Ealert(1)%3C%2Fscript%3E')).body.toString();
    expect(escaped).not.toContain('<script>alert');
    expect((await request(web.port, '/no/such/folder/file.txt')).status).toBe(404);
    expect((await request(web.port, '/index.html/')).status).toBe(404);
  });

  it('never serves dotfiles, but serves .well-known', async () => {
    for (const path of ['/.env', '/.git/config', '/files/.hidden', '/%2eenv', '/.git/']) {
      const res = await request(web.port, path);
      expect(res.status, path).toBe(404);
      expect(res.body.toString()).not.toContain('hunter2');
    }
    expect((await request(web.port, '/.well-known/security.txt')).status).toBe(200);
  });
});

describe('paths that try to leave the root', () => {
  const attacks = [
    '/../secret.txt',
    '/../../../../../../etc/passwd',
    '/docs/../../secret.txt',
    '/%2e%2e/secret.txt',
    '/%2E%2E/secret.txt',
    '/.%2e/secret.txt',
    '/%2e./secret.txt',
    '/..%2fsecret.txt',
    '/%2e%2e%2fsecret.txt',
    '/docs%2f..%2f..%2fsecret.txt',
    '/..\\secret.txt',
    '/%5c..%5csecret.txt',
    '/docs\\..\\..\\secret.txt',
    '/secret.txt%00.html',
    '/%00',
    '/%c0%ae%c0%ae/secret.txt',
    '/%c0%af..%c0%afsecret.txt',
    '/%e0%80%ae%e0%80%ae/secret.txt',
    '/%252e%252e/secret.txt',
    '//../secret.txt',
    '/./../secret.txt',
    'http://127.0.0.1/../secret.txt',
    '/link-out.txt',
    '/dir-out/secret.txt',
  ];

  it.each(attacks)('%s is refused and leaks nothing', async (target) => {
    const response = await rawExchange(web.port, `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(response)?.[1]);
    expect([400, 404]).toContain(status);
    expect(response).not.toContain('TOP-SECRET');
    expect(response).not.toContain('root:');
  });

  it('keeps serving after every attack', async () => {
    expect((await request(web.port, '/')).status).toBe(200);
  });

  it('does not serve a FIFO (and does not hang on it)', async () => {
    const fifo = join(site.root, 'pipe.txt');
    try {
      execFileSync('mkfifo', [fifo]);
    } catch {
      return; // no mkfifo here
    }
    try {
      expect((await request(web.port, '/pipe.txt')).status).toBe(404);
    } finally {
      unlinkSync(fifo);
    }
  });
});

describe('ranges', () => {
  const css = Buffer.from(CSS);

  it.each([
    ['cached', '/style.css', css],
    ['streamed', '/big.bin', null],
  ])('%s file: single, open, suffix ranges with Content-Range', async (_kind, path, known) => {
    const body = known ?? site.big;
    const size = body.length;
    const single = await request(web.port, path, { headers: { Range: 'bytes=10-19' } });
    expect(single.status).toBe(206);
    expect(single.headers['content-range']).toBe(`bytes 10-19/${size}`);
    expect(single.headers['content-length']).toBe('10');
    expect(single.body.equals(body.subarray(10, 20))).toBe(true);
    const open = await request(web.port, path, { headers: { Range: `bytes=${size - 5}-` } });
    expect(open.body.equals(body.subarray(size - 5))).toBe(true);
    const suffix = await request(web.port, path, { headers: { Range: 'bytes=-7' } });
    expect(suffix.headers['content-range']).toBe(`bytes ${size - 7}-${size - 1}/${size}`);
    expect(suffix.body.equals(body.subarray(size - 7))).toBe(true);
    const clamped = await request(web.port, path, { headers: { Range: `bytes=0-${size * 10}` } });
    expect(clamped.status).toBe(206);
    expect(clamped.body.equals(body)).toBe(true);
  });

  it.each([
    ['cached', '/style.css', css],
    ['streamed', '/big.bin', null],
  ])('%s file: several ranges as multipart/byteranges, coalesced', async (_kind, path, known) => {
    const body = known ?? site.big;
    const res = await request(web.port, path, { headers: { Range: 'bytes=-3,0-4,2-6,100-109' } });
    expect(res.status).toBe(206);
    expect(res.headers['content-type']).toMatch(/^multipart\/byteranges; boundary=/);
    expect(res.headers['content-length']).toBe(String(res.body.length));
    const parts = parseMultipart(res.body, res.headers['content-type']!);
    expect(parts.map((p) => p.headers['content-range'])).toEqual([`bytes 0-6/${body.length}`, `bytes 100-109/${body.length}`, `bytes ${body.length - 3}-${body.length - 1}/${body.length}`]);
    expect(parts[0]!.data.equals(body.subarray(0, 7))).toBe(true);
    expect(parts[1]!.data.equals(body.subarray(100, 110))).toBe(true);
    expect(parts[2]!.data.equals(body.subarray(body.length - 3))).toBe(true);
  });

  it('416 with the size when nothing is satisfiable; invalid headers get the whole file', async () => {
    for (const path of ['/style.css', '/big.bin']) {
      const size = path === '/style.css' ? css.length : site.big.length;
      const res = await request(web.port, path, { headers: { Range: `bytes=${size}-` } });
      expect(res.status).toBe(416);
      expect(res.headers['content-range']).toBe(`bytes */${size}`);
      const invalid = await request(web.port, path, { headers: { Range: 'bytes=9-2' } });
      expect(invalid.status).toBe(200);
      expect(invalid.body.length).toBe(size);
      const foreign = await request(web.port, path, { headers: { Range: 'lines=1-2' } });
      expect(foreign.status).toBe(200);
    }
    expect((await request(web.port, '/empty.txt', { headers: { Range: 'bytes=0-' } })).status).toBe(416);
  });

  it('If-Range: the current tag or date gets the range, a stale one the whole file', async () => {
    for (const path of ['/style.css', '/big.bin']) {
      const full = await request(web.port, path);
      const etag = full.headers.etag!;
      const lastModified = full.headers['last-modified']!;
      const current = await request(web.port, path, { headers: { Range: 'bytes=0-1', 'If-Range': etag } });
      expect(current.status).toBe(206);
      const byDate = await request(web.port, path, { headers: { Range: 'bytes=0-1', 'If-Range': lastModified } });
      expect(byDate.status).toBe(206);
      const stale = await request(web.port, path, { headers: { Range: 'bytes=0-1', 'If-Range': '"stale"' } });
      expect(stale.status).toBe(200);
      expect(stale.body.length).toBe(full.body.length);
      const weak = await request(web.port, path, { headers: { Range: 'bytes=0-1', 'If-Range': `W/${etag}` } });
      expect(weak.status).toBe(200);
    }
  });

  it('ignores Range on HEAD, and serves ranges of the identity bytes even when compression was asked for', async () => {
    expect((await request(web.port, '/style.css', { method: 'HEAD', headers: { Range: 'bytes=0-1' } })).status).toBe(200);
    const res = await request(web.port, '/style.css', { headers: { Range: 'bytes=0-9', 'Accept-Encoding': 'gzip, br' } });
    expect(res.status).toBe(206);
    expect(res.headers['content-encoding']).toBeUndefined();
    expect(res.body.equals(css.subarray(0, 10))).toBe(true);
  });
});

describe('conditional requests', () => {
  it.each(['/style.css', '/big.bin', '/pre.txt'])('%s: 304 for a matching If-None-Match or a later If-Modified-Since', async (path) => {
    const full = await request(web.port, path);
    const etag = full.headers.etag!;
    const notModified = await request(web.port, path, { headers: { 'If-None-Match': etag } });
    expect(notModified.status).toBe(304);
    expect(notModified.body.length).toBe(0);
    expect(notModified.headers.etag).toBe(etag);
    expect(notModified.headers['cache-control']).toBe('no-cache');
    expect((await request(web.port, path, { headers: { 'If-None-Match': `"x", W/${etag}` } })).status).toBe(304);
    expect((await request(web.port, path, { headers: { 'If-None-Match': '"other"' } })).status).toBe(200);
    expect((await request(web.port, path, { headers: { 'If-Modified-Since': full.headers['last-modified']! } })).status).toBe(304);
    expect((await request(web.port, path, { headers: { 'If-Modified-Since': formatHttpDate(Date.now() + 3_600_000) } })).status).toBe(304);
    expect((await request(web.port, path, { headers: { 'If-Modified-Since': formatHttpDate(0) } })).status).toBe(200);
    // If-None-Match wins over If-Modified-Since.
    expect((await request(web.port, path, { headers: { 'If-None-Match': '"other"', 'If-Modified-Since': full.headers['last-modified']! } })).status).toBe(200);
  });

  it('412 for a failed If-Match or If-Unmodified-Since', async () => {
    const full = await request(web.port, '/style.css');
    expect((await request(web.port, '/style.css', { headers: { 'If-Match': '"nope"' } })).status).toBe(412);
    expect((await request(web.port, '/style.css', { headers: { 'If-Match': full.headers.etag! } })).status).toBe(200);
    expect((await request(web.port, '/style.css', { headers: { 'If-Unmodified-Since': formatHttpDate(0) } })).status).toBe(412);
    expect((await request(web.port, '/big.bin', { headers: { 'If-Match': '"nope"' } })).status).toBe(412);
  });
});

describe('compression', () => {
  it('compresses text on the fly: brotli preferred, gzip next, identity for those who ask for nothing', async () => {
    const br = await request(web.port, '/style.css', { headers: { 'Accept-Encoding': 'gzip, deflate, br' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers.vary).toBe('Accept-Encoding');
    expect(brotliDecompressSync(br.body).toString()).toBe(CSS);
    expect(Number(br.headers['content-length'])).toBe(br.body.length);
    expect(br.headers.etag).toMatch(/-br"$/);
    const gz = await request(web.port, '/style.css', { headers: { 'Accept-Encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(gz.body).toString()).toBe(CSS);
    expect(gz.headers.etag).not.toBe(br.headers.etag);
    const plain = await request(web.port, '/style.css');
    expect(plain.headers['content-encoding']).toBeUndefined();
    // 304 for the compressed representation's own tag.
    expect((await request(web.port, '/style.css', { headers: { 'Accept-Encoding': 'gzip', 'If-None-Match': gz.headers.etag! } })).status).toBe(304);
  });

  it('leaves images, tiny files and refusals alone', async () => {
    expect((await request(web.port, '/pixel.png', { headers: { 'Accept-Encoding': 'gzip, br' } })).headers['content-encoding']).toBeUndefined();
    expect((await request(web.port, '/app.js', { headers: { 'Accept-Encoding': 'gzip, br' } })).headers['content-encoding']).toBeUndefined();
    expect((await request(web.port, '/style.css', { headers: { 'Accept-Encoding': 'gzip;q=0, br;q=0' } })).headers['content-encoding']).toBeUndefined();
  });

  it('streams large text compressed, without a length', async () => {
    const gz = await request(web.port, '/big.txt', { headers: { 'Accept-Encoding': 'gzip' } });
    expect(gz.status).toBe(200);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['content-length']).toBeUndefined();
    expect(gz.headers['transfer-encoding']).toBe('chunked');
    expect(gunzipSync(gz.body).toString()).toBe(BIG_TEXT);
    const br = await request(web.port, '/big.txt', { headers: { 'Accept-Encoding': 'br' } });
    expect(brotliDecompressSync(br.body).toString()).toBe(BIG_TEXT);
  });

  it('serves precompressed .br and .gz siblings', async () => {
    const pre = readFileSync(join(site.root, 'pre.txt'));
    const br = await request(web.port, '/pre.txt', { headers: { 'Accept-Encoding': 'br, gzip' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.body.equals(readFileSync(join(site.root, 'pre.txt.br')))).toBe(true);
    expect(br.headers['content-type']).toBe('text/plain; charset=utf-8');
    const gz = await request(web.port, '/pre.txt', { headers: { 'Accept-Encoding': 'gzip' } });
    expect(gz.body.equals(readFileSync(join(site.root, 'pre.txt.gz')))).toBe(true);
    expect(gunzipSync(gz.body).equals(pre)).toBe(true);
    // Even with on-the-fly compression off.
    const off = await another({ compress: false });
    expect((await request(off.port, '/pre.txt', { headers: { 'Accept-Encoding': 'gzip' } })).headers['content-encoding']).toBe('gzip');
    expect((await request(off.port, '/style.css', { headers: { 'Accept-Encoding': 'gzip' } })).headers['content-encoding']).toBeUndefined();
    // And from the streaming path.
    const streaming = await another({ cacheMaxFileBytes: 16 });
    const streamed = await request(streaming.port, '/pre.txt', { headers: { 'Accept-Encoding': 'br' } });
    expect(streamed.body.equals(readFileSync(join(site.root, 'pre.txt.br')))).toBe(true);
    expect(streamed.headers['content-length']).toBe(String(streamed.body.length));
  });
});

describe('the cache follows the disk', () => {
  it('sees edits at once with fs.watch', async () => {
    // The time-based check is an hour away, so only the watcher can show the new version in time.
    const watched = await another({ revalidateMs: 3_600_000 });
    const path = join(site.root, 'live.txt');
    writeFileSync(path, 'version 1');
    expect((await request(watched.port, '/live.txt')).body.toString()).toBe('version 1');
    writeFileSync(path, 'version 2, longer');
    let body = '';
    const start = Date.now();
    while (Date.now() - start < 10_000) {
      body = (await request(watched.port, '/live.txt')).body.toString();
      if (body === 'version 2, longer') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(body).toBe('version 2, longer');
    unlinkSync(path);
    await expectEventually(watched.port, '/live.txt', 404);
  });

  it('without watchers, revalidates within revalidateMs, also for same-size edits', async () => {
    const server = await another({ watch: false, revalidateMs: 150 });
    const path = join(site.root, 'polled.txt');
    writeFileSync(path, 'AAAA');
    expect((await request(server.port, '/polled.txt')).body.toString()).toBe('AAAA');
    writeFileSync(path, 'BBBB');
    utimesSync(path, new Date(), new Date(Date.now() + 5_000)); // a different mtime, same size
    await new Promise((r) => setTimeout(r, 200));
    expect((await request(server.port, '/polled.txt')).body.toString()).toBe('BBBB');
    unlinkSync(path);
    await new Promise((r) => setTimeout(r, 200));
    expect((await request(server.port, '/polled.txt')).status).toBe(404);
  });

  it('drops a file replaced by a symlink that leaves the root', async () => {
    const server = await another({ watch: false, revalidateMs: 50 });
    const path = join(site.root, 'swap.txt');
    writeFileSync(path, 'innocent');
    expect((await request(server.port, '/swap.txt')).status).toBe(200);
    unlinkSync(path);
    symlinkSync(site.secret, path);
    await new Promise((r) => setTimeout(r, 100));
    const res = await request(server.port, '/swap.txt');
    expect(res.status).toBe(404);
    expect(res.body.toString()).not.toContain('TOP-SECRET');
    unlinkSync(path);
  });

  it('sees a new precompressed sibling and an atomic rename', async () => {
    const server = await another({ revalidateMs: 100 });
    const path = join(site.root, 'renamed.txt');
    writeFileSync(path, 'old old old '.repeat(50));
    expect((await request(server.port, '/renamed.txt')).body.toString()).toContain('old');
    writeFileSync(`${path}.tmp`, 'new new new '.repeat(50));
    renameSync(`${path}.tmp`, path);
    await expectEventually(server.port, '/renamed.txt', 200, (body) => body.startsWith('new'));
    unlinkSync(path);
  });

  it('stays within its byte budget', async () => {
    const server = await another({ cacheMaxBytes: 20_000, cacheMaxFileBytes: 6_000, compress: false });
    for (const path of ['/data.bin', '/style.css', '/index.html', '/pixel.png', '/app.js', '/docs/', '/docs/guide.html']) {
      expect((await request(server.port, path)).status).toBe(200);
    }
    // Whatever was evicted is read again, correctly.
    expect((await request(server.port, '/data.bin')).body.equals(readFileSync(join(site.root, 'data.bin')))).toBe(true);
  });
});

async function expectEventually(port: number, path: string, status: number, check: (body: string) => boolean = () => true): Promise<void> {
  const start = Date.now();
  let last: { status: number; body: string } = { status: 0, body: '' };
  while (Date.now() - start < 3_000) {
    const res = await request(port, path);
    last = { status: res.status, body: res.body.toString() };
    if (last.status === status && check(last.body)) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`${path}: still ${last.status} ${last.body.slice(0, 40)}`);
}

describe('bad and hostile clients', () => {
  it('answers malformed requests with 400 and keeps running', async () => {
    for (const garbage of ['GARBAGE\r\n\r\n', 'GET / HTTP/9.9\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n', 'GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n', '\x00\x01\x02\r\n\r\n']) {
      const response = await rawExchange(web.port, garbage);
      expect(response, JSON.stringify(garbage)).toMatch(/^HTTP\/1\.1 (400|505)/);
    }
    expect((await request(web.port, '/')).status).toBe(200);
  });

  it('answers an over-long head with 431', async () => {
    const response = await rawExchange(web.port, `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
    expect(response).toMatch(/^HTTP\/1\.1 431/);
  });

  it('speaks HTTP/1.0 and absolute-form targets', async () => {
    const response = await rawExchange(web.port, 'GET http://example.com/style.css HTTP/1.0\r\n\r\n');
    expect(response).toMatch(/^HTTP\/1\.1 200/);
    expect(response).toContain('body { color');
  });

  it('drops a slow client that sends its headers one byte a second (slow loris)', async () => {
    const server = await another({ headersTimeoutMs: 1_500, requestTimeoutMs: 3_000 });
    const socket = net.connect({ port: server.port, host: '127.0.0.1' });
    await once(socket, 'connect');
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    socket.on('error', () => {});
    const closed = once(socket, 'close');
    const started = Date.now();
    const slowHead = Buffer.from('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n\r\n');
    let sent = 0;
    const drip = setInterval(() => {
      if (sent < slowHead.length && !socket.destroyed) socket.write(slowHead.subarray(sent, ++sent));
    }, 1_000);
    // Meanwhile a normal client is served.
    expect((await request(server.port, '/')).status).toBe(200);
    await closed;
    clearInterval(drip);
    const elapsed = Date.now() - started;
    expect(elapsed).toBeLessThan(4_000);
    expect(elapsed).toBeGreaterThanOrEqual(1_400);
    expect(sent).toBeLessThan(slowHead.length);
    expect(Buffer.concat(received).toString()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('drops a client that connects and says nothing', async () => {
    const server = await another({ headersTimeoutMs: 1_000, requestTimeoutMs: 2_000 });
    const socket = net.connect({ port: server.port, host: '127.0.0.1' });
    socket.on('error', () => {});
    const received: Buffer[] = [];
    socket.on('data', (d: Buffer) => received.push(d));
    const started = Date.now();
    await once(socket, 'close');
    expect(Date.now() - started).toBeLessThan(3_500);
    expect(Buffer.concat(received).toString()).toMatch(/^HTTP\/1\.1 408/);
  });

  it('serves 10,000 keep-alive requests on one connection', async () => {
    const socket = net.connect({ port: web.port, host: '127.0.0.1' });
    await once(socket, 'connect');
    const css: Buffer = Buffer.from(CSS);
    const batch = 200;
    const total = 10_000;
    let buffered: Buffer = Buffer.alloc(0);
    let responses = 0;
    let waiting: (() => void) | undefined;
    socket.on('data', (chunk: Buffer) => {
      buffered = buffered.length === 0 ? chunk : Buffer.concat([buffered, chunk]);
      for (;;) {
        const headEnd = buffered.indexOf('\r\n\r\n');
        if (headEnd < 0) break;
        const head = buffered.subarray(0, headEnd).toString('latin1');
        const length = Number(/content-length: (\d+)/i.exec(head)?.[1]);
        if (buffered.length < headEnd + 4 + length) break;
        expect(head.startsWith('HTTP/1.1 200 OK')).toBe(true);
        expect(buffered.subarray(headEnd + 4, headEnd + 4 + length).equals(css)).toBe(true);
        buffered = buffered.subarray(headEnd + 4 + length);
        responses++;
        if (responses % batch === 0) waiting?.();
      }
    });
    const one = 'GET /style.css HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n';
    for (let sent = 0; sent < total; sent += batch) {
      const done = new Promise<void>((resolve) => (waiting = resolve));
      socket.write(one.repeat(batch));
      await done;
    }
    expect(responses).toBe(total);
    expect(socket.destroyed).toBe(false);
    socket.destroy();
  });

  /** Open two connections, then a third that the server must close at once. */
  async function connectPastTwo(port: number): Promise<[net.Socket, net.Socket]> {
    const a = net.connect({ port, host: '127.0.0.1' });
    const b = net.connect({ port, host: '127.0.0.1' });
    await Promise.all([once(a, 'connect'), once(b, 'connect')]);
    const c = net.connect({ port, host: '127.0.0.1' });
    c.on('error', () => {});
    await once(c, 'close');
    return [a, b];
  }

  it('limits connections per IP', async () => {
    const server = await another({ maxConnectionsPerIp: 2 });
    const [a, b] = await connectPastTwo(server.port);
    a.destroy();
    b.destroy();
    await waitFor(() => a.destroyed && b.destroyed);
    await new Promise((r) => setTimeout(r, 50));
    expect((await request(server.port, '/')).status).toBe(200);
  });

  it('limits connections in total, counts the refused, and serves again once one leaves', async () => {
    const server = await another({ maxConnections: 2, maxConnectionsPerIp: 0 });
    const [a, b] = await connectPastTwo(server.port);
    const metrics = server.host.metrics.for('web');
    expect(metrics.connectionsRefused).toBe(1);
    a.destroy();
    await waitFor(() => metrics.connectionsOpen === 1);
    expect((await request(server.port, '/')).status).toBe(200);
    b.destroy();
  });
});

describe('options', () => {
  it('lists folders when asked, hiding dotfiles and escaping names', async () => {
    const server = await another({ listing: true });
    const res = await request(server.port, '/files/');
    expect(res.status).toBe(200);
    const page = res.body.toString();
    expect(page).toContain('Index of /files/');
    expect(page).toContain('href="/files/one.txt"');
    expect(page).toContain('href="/files/two%20%26%20%3Cthree%3E.txt"');
    expect(page).toContain('two &#38; &#60;three&#62;.txt');
    expect(page).toContain('href="/files/nested/"');
    expect(page).not.toContain('.hidden');
    // A folder with an index still serves the index.
    expect((await request(server.port, '/docs/')).body.toString()).toBe('<h1>docs</h1>\n');
    expect((await request(server.port, '/files/', { method: 'HEAD' })).body.length).toBe(0);
  });

  it('leaves symlinks that lead out of the root out of a listing (no size or date of a file outside leaks)', async () => {
    const server = await another({ listing: true });
    const folder = join(site.root, 'listed-links');
    mkdirSync(folder);
    symlinkSync(site.secret, join(folder, 'out.txt'));
    symlinkSync(site.base, join(folder, 'out-dir'));
    symlinkSync(join(site.root, 'style.css'), join(folder, 'in.css'));
    try {
      const page = (await request(server.port, '/listed-links/')).body.toString();
      expect(page).toContain('href="/listed-links/in.css"');
      expect(page).not.toContain('out.txt');
      expect(page).not.toContain('out-dir');
    } finally {
      rmSync(folder, { recursive: true });
    }
  });

  it('treats a folder named like the index as no index (a listing or a 404), not a redirect to itself', async () => {
    const listed = await another({ listing: true });
    const folder = join(site.root, 'index-is-a-folder');
    mkdirSync(join(folder, 'index.html'), { recursive: true });
    writeFileSync(join(folder, 'notes.txt'), 'notes');
    try {
      const listing = await request(listed.port, '/index-is-a-folder/');
      expect(listing.status).toBe(200);
      expect(listing.body.toString()).toContain('notes.txt');
      const unlisted = await request(web.port, '/index-is-a-folder/');
      expect(unlisted.status).toBe(404);
    } finally {
      rmSync(folder, { recursive: true });
    }
  });

  it('adds CORS headers and answers preflights when asked', async () => {
    const any = await another({ cors: true });
    const res = await request(any.port, '/style.css', { headers: { Origin: 'https://app.example' } });
    expect(res.headers['access-control-allow-origin']).toBe('*');
    expect(res.headers['access-control-expose-headers']).toContain('Content-Range');
    const preflight = await request(any.port, '/style.css', {
      method: 'OPTIONS',
      headers: { Origin: 'https://app.example', 'Access-Control-Request-Method': 'GET', 'Access-Control-Request-Headers': 'range, if-none-match' },
    });
    expect(preflight.status).toBe(204);
    expect(preflight.headers['access-control-allow-methods']).toBe('GET, HEAD, OPTIONS');
    expect(preflight.headers['access-control-allow-headers']).toBe('range, if-none-match');
    const one = await another({ cors: 'https://app.example' });
    const only = await request(one.port, '/style.css', { headers: { 'Accept-Encoding': 'gzip' } });
    expect(only.headers['access-control-allow-origin']).toBe('https://app.example');
    expect(only.headers.vary).toBe('Origin, Accept-Encoding');
  });

  it('takes Cache-Control and the index name from config', async () => {
    const server = await another({ cacheControl: 'public, max-age=31536000, immutable', index: 'guide.html' });
    const res = await request(server.port, '/docs/');
    expect(res.body.toString()).toBe('<h1>guide</h1>\n');
    expect(res.headers['cache-control']).toBe('public, max-age=31536000, immutable');
  });

  it('creates a welcome page in a fresh data folder, and leaves an existing one alone', async () => {
    const dataDir = tempDataDir();
    const first = await startWeb(undefined, {}, { dataDir });
    extra.push(first);
    const res = await request(first.port, '/');
    expect(res.status).toBe(200);
    expect(res.body.toString()).toContain('wharf');
    expect(existsSync(join(dataDir, 'www', 'index.html'))).toBe(true);
    writeFileSync(join(dataDir, 'www', 'index.html'), 'mine');
    const second = await startWeb(undefined, {}, { dataDir });
    extra.push(second);
    expect((await request(second.port, '/')).body.toString()).toBe('mine');
  });

  it('refuses a missing root and half a TLS pair', async () => {
    await expect(startWeb(join(site.base, 'nope'))).rejects.toThrow(/does not exist/);
    expect(() => webConfigSchema.parse({ cert: 'a.pem' })).toThrow(/cert and key go together/);
    expect(() => webConfigSchema.parse({ headersTimeoutMs: 10, requestTimeoutMs: 5 })).toThrow(/must not exceed/);
    expect(webConfigSchema.parse({ cacheMaxBytes: '2M' }).cacheMaxBytes).toBe(2 * 1024 * 1024);
  });

  it('writes an access log: a pino line per request, or the combined format to a file', async () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(...chunk.toString().trim().split('\n'));
        callback();
      },
    });
    const logged = await startWeb(site.root, { accessLog: 'pino' }, { logger: pino({ level: 'info' }, sink) });
    extra.push(logged);
    await request(logged.port, '/style.css?x=1', { headers: { 'User-Agent': 'tester' } });
    await request(logged.port, '/missing');
    await waitFor(() => lines.length >= 2);
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[0]?.msg).toMatch(/^127\.0\.0\.1 "GET \/style\.css\?x=1 HTTP\/1\.1" 200 973 B \d+ ms$/);
    expect(records[0]).toMatchObject({ method: 'GET', url: '/style.css?x=1', status: 200, bytes: CSS.length, peer: '127.0.0.1', service: 'web' });
    expect(records[1]).toMatchObject({ url: '/missing', status: 404 });

    const file = join(site.base, 'access.log');
    const toFile = await startWeb(site.root, { accessLog: file });
    await request(toFile.port, '/index.html', { headers: { 'User-Agent': 'curl/8', Referer: 'http://r/' } });
    await request(toFile.port, '/big.bin', { headers: { Range: 'bytes=0-99' } });
    await toFile.stop();
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^127\.0\.0\.1 - - \[\d\d\/\w{3}\/\d{4}:\d\d:\d\d:\d\d \+0000\] "GET \/index\.html HTTP\/1\.1" 200 \d+ "http:\/\/r\/" "curl\/8"\n/);
    expect(text).toContain('"GET /big.bin HTTP/1.1" 206 100 "-" "-"');
  });
});

describe('HTTPS and HTTP/2', () => {
  const tls = { cert: join(FIXTURES, 'localhost.crt'), key: join(FIXTURES, 'localhost.key') };
  const ca = readFileSync(tls.cert);

  it('speaks HTTP/2 and HTTP/1.1 over TLS on one port', async () => {
    const server = await another(tls);
    const session = http2.connect(`https://localhost:${server.port}`, { ca });
    session.on('error', () => {});
    const get = (path: string, headers: Record<string, string> = {}) =>
      new Promise<{ status: number; headers: http2.IncomingHttpHeaders; body: Buffer }>((resolve, reject) => {
        const stream = session.request({ ':path': path, ...headers });
        const chunks: Buffer[] = [];
        let responseHeaders: http2.IncomingHttpHeaders = {};
        stream.on('response', (h) => (responseHeaders = h));
        stream.on('data', (c: Buffer) => chunks.push(c));
        stream.on('end', () => resolve({ status: Number(responseHeaders[':status']), headers: responseHeaders, body: Buffer.concat(chunks) }));
        stream.on('error', reject);
      });
    const page = await get('/');
    expect(page.status).toBe(200);
    expect(page.body.toString()).toContain('<h1>home</h1>');
    const range = await get('/big.bin', { range: 'bytes=5-9' });
    expect(range.status).toBe(206);
    expect(range.body.equals(site.big.subarray(5, 10))).toBe(true);
    const whole = await get('/big.bin');
    expect(whole.body.equals(site.big)).toBe(true);
    const gz = await get('/big.txt', { 'accept-encoding': 'gzip' });
    expect(gunzipSync(gz.body).toString()).toBe(BIG_TEXT);
    expect((await get('/../secret.txt')).status).toBe(400);
    expect((await get('/style.css', { 'if-none-match': page.headers.etag as string })).status).toBe(200);
    session.close();

    const http1 = await new Promise<{ status: number; body: string; alpn: string | false }>((resolve, reject) => {
      const req = https.get({ host: '127.0.0.1', servername: 'localhost', port: server.port, path: '/style.css', ca, agent: false }, (res) => {
        let body = '';
        res.on('data', (c: Buffer) => (body += c.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body, alpn: (res.socket as TLSSocket).alpnProtocol ?? false }));
      });
      req.on('error', reject);
    });
    expect(http1.status).toBe(200);
    expect(http1.body).toBe(CSS);
  });

  it('speaks HTTPS without HTTP/2 when told', async () => {
    const server = await another({ ...tls, http2: false });
    const status = await new Promise<number>((resolve, reject) => {
      https.get({ host: '127.0.0.1', servername: 'localhost', port: server.port, path: '/', ca, agent: false }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      }).on('error', reject);
    });
    expect(status).toBe(200);
  });
});

describe('stopping', () => {
  it('stops promptly with idle keep-alive connections open', async () => {
    const server = await startWeb(site.root);
    const agent = new http.Agent({ keepAlive: true });
    await new Promise<void>((resolve) => http.get({ port: server.port, host: '127.0.0.1', path: '/', agent }, (res) => res.resume().on('end', () => resolve())));
    const started = Date.now();
    await server.host.stop(60_000);
    expect(Date.now() - started).toBeLessThan(10_000); // it did not wait out the 60 s grace for them
    agent.destroy();
  });
});
