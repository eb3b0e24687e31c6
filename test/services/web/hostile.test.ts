import { readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import https from 'node:https';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../../helpers/net.js';
import { FIXTURES, makeSite, rawExchange, request, startWeb, type Site, type StartedWeb } from './support.js';

let site: Site;
let web: StartedWeb;

beforeAll(async () => {
  site = makeSite();
  // big.bin (300 KiB) is streamed from disk, the small files come from the cache.
  web = await startWeb(site.root, { cacheMaxFileBytes: 64 * 1024, listing: false });
});
afterAll(async () => {
  await web.stop();
  rmSync(site.base, { recursive: true, force: true });
});

/** The status lines in a raw exchange, in order. */
const statusLines = (raw: string) => raw.match(/HTTP\/1\.1 \d{3}/g) ?? [];

describe('a response is never cut by an error answer', () => {
  const cases: Array<[string, string]> = [
    ['/style.css', 'HTTP/1.1 200'],
    ['/big.bin', 'HTTP/1.1 200'],
    ['/docs', 'HTTP/1.1 301'],
    ['/docs/', 'HTTP/1.1 200'],
    ['/missing.html', 'HTTP/1.1 404'],
  ];
  for (const [path, expected] of cases) {
    it(`answers ${path} whole when bytes follow a request that closes the connection`, async () => {
      for (const head of [`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, `GET ${path} HTTP/1.0\r\n\r\n`]) {
        const raw = await rawExchange(web.port, `${head}GET /index.html HTTP/1.1\r\nHost: x\r\n\r\njunk`);
        expect(statusLines(raw), head).toEqual([expected]);
        if (path === '/big.bin') expect(raw.length - raw.indexOf('\r\n\r\n') - 4).toBe(site.big.length);
      }
    });
  }

  it('answers pipelined requests in order before the 400 for junk behind them', async () => {
    const raw = await rawExchange(web.port, 'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\nGET /style.css HTTP/1.1\r\nHost: x\r\n\r\nNOT HTTP AT ALL\r\n\r\n');
    expect(statusLines(raw)).toEqual(['HTTP/1.1 200', 'HTTP/1.1 200', 'HTTP/1.1 400']);
  });
});

describe('request heads RFC 9112 refuses', () => {
  it('two Host headers: one 400, and the connection closes', async () => {
    const raw = await rawExchange(web.port, 'GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n');
    expect(statusLines(raw)).toEqual(['HTTP/1.1 400']);
    expect(raw).toMatch(/connection: close/i);
  });

  it('an HTTP/1.1 request without Host: one 400 whose page says why (seed 003\'s raw-socket client)', async () => {
    const raw = await rawExchange(web.port, 'GET / HTTP/1.1\r\n\r\n');
    expect(statusLines(raw)).toEqual(['HTTP/1.1 400']);
    expect(raw).toMatch(/connection: close/i);
    expect(raw).toContain('This request cannot be served: an HTTP/1.1 request needs a Host header.');
  });

  it('an HTTP/1.0 request needs no Host', async () => {
    const raw = await rawExchange(web.port, 'GET / HTTP/1.0\r\n\r\n');
    expect(statusLines(raw)).toEqual(['HTTP/1.1 200']);
  });

  it('a transfer coding other than chunked last: exactly one answer, 400', async () => {
    for (const method of ['GET', 'POST']) {
      const raw = await rawExchange(web.port, `${method} / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n0\r\n\r\n`);
      expect(statusLines(raw), method).toEqual(['HTTP/1.1 400']);
    }
  });

  it('CONNECT gets 405, not silence', async () => {
    const raw = await rawExchange(web.port, 'CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n');
    expect(statusLines(raw)).toEqual(['HTTP/1.1 405']);
    expect(raw).toMatch(/allow: GET, HEAD/i);
  });

  it('still serves after each of them', async () => {
    expect((await request(web.port, '/')).status).toBe(200);
  });
});

describe('limits per connection', () => {
  it('drops a connection that pipelines more than maxPipelined requests without reading', async () => {
    const server = await startWeb(site.root, { maxPipelined: 8 });
    try {
      const raw = await rawExchange(server.port, 'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(50), 2_000);
      // At most the answers it was given before the limit, never fifty.
      expect(statusLines(raw).length).toBeLessThan(10);
      expect(server.host.metrics.for('web').errors).toBeGreaterThan(0);
      expect((await request(server.port, '/')).status).toBe(200);
    } finally {
      await server.stop();
    }
  });

  it('advertises SETTINGS_MAX_CONCURRENT_STREAMS on HTTP/2', async () => {
    const server = await startWeb(site.root, { cert: join(FIXTURES, 'localhost.crt'), key: join(FIXTURES, 'localhost.key'), maxConcurrentStreams: 50 });
    const session = http2.connect(`https://localhost:${server.port}`, { ca: readFileSync(join(FIXTURES, 'localhost.crt')) });
    try {
      session.on('error', () => {});
      await new Promise((resolve) => session.once('remoteSettings', resolve));
      expect(session.remoteSettings.maxConcurrentStreams).toBe(50);
    } finally {
      session.destroy();
      await server.stop();
    }
  });
});

describe('byte counters', () => {
  const tls = { cert: join(FIXTURES, 'localhost.crt'), key: join(FIXTURES, 'localhost.key') };
  const ca = readFileSync(tls.cert);

  async function counted(overrides: Parameters<typeof startWeb>[1], fetch: (port: number) => Promise<number>): Promise<{ bytesIn: number; bytesOut: number; body: number }> {
    const server = await startWeb(site.root, { cacheMaxFileBytes: 64 * 1024, ...overrides });
    try {
      const body = await fetch(server.port);
      const metrics = () => server.host.metrics.for('web');
      // Counted while the connection is open (at most a second late) and when it closes.
      await waitFor(() => metrics().bytesOut >= body, 3_000);
      return { bytesIn: metrics().bytesIn, bytesOut: metrics().bytesOut, body };
    } finally {
      await server.stop();
    }
  }

  it('counts bytes in and out over HTTP/1.1', async () => {
    const result = await counted({}, async (port) => (await request(port, '/big.bin')).body.length);
    expect(result.body).toBe(site.big.length);
    expect(result.bytesIn).toBeGreaterThan(20);
    expect(result.bytesOut).toBeGreaterThan(site.big.length);
  });

  it('counts bytes in and out over HTTPS', async () => {
    const result = await counted({ ...tls, http2: false }, (port) =>
      new Promise<number>((resolve, reject) => {
        https
          .get({ host: '127.0.0.1', servername: 'localhost', port, path: '/big.bin', ca, agent: false }, (res) => {
            let length = 0;
            res.on('data', (c: Buffer) => (length += c.length));
            res.on('end', () => resolve(length));
          })
          .on('error', reject);
      }),
    );
    expect(result.body).toBe(site.big.length);
    expect(result.bytesIn).toBeGreaterThan(200); // the TLS handshake at least
    expect(result.bytesOut).toBeGreaterThan(site.big.length);
  });

  it('counts bytes in and out over HTTP/2', async () => {
    const result = await counted(tls, (port) =>
      new Promise<number>((resolve, reject) => {
        const session = http2.connect(`https://localhost:${port}`, { ca });
        session.on('error', reject);
        const stream = session.request({ ':path': '/big.bin' });
        let length = 0;
        stream.on('data', (c: Buffer) => (length += c.length));
        stream.on('end', () => {
          session.close();
          resolve(length);
        });
        stream.on('error', reject);
      }),
    );
    expect(result.body).toBe(site.big.length);
    expect(result.bytesIn).toBeGreaterThan(200);
    expect(result.bytesOut).toBeGreaterThan(site.big.length);
  });
});
