import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import http2 from 'node:http2';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { webConfigSchema, webService } from '../../src/services/web/server.js';
import { fuzz, LogWatch, selected, startHosted, testTimeoutMs, type HostedService } from './harness.js';
import { sendStreams } from './transports.js';

const INDEX = '<!doctype html><title>fuzz</title><h1>home</h1>\n';
const FIXTURES = join(import.meta.dirname, '..', 'services', 'web', 'fixtures');
const TLS = { cert: join(FIXTURES, 'localhost.crt'), key: join(FIXTURES, 'localhost.key') };

const request = (...lines: string[]): Buffer => Buffer.from(lines.map((line) => `${line}\r\n`).join(''), 'latin1');

/** HTTP/1.1 requests: conditional, ranged, compressed, with a body, chunked, pipelined, hostile paths. */
const HTTP1_SEEDS = [
  request('GET / HTTP/1.1', 'Host: localhost', ''),
  request('GET /index.html HTTP/1.1', 'Host: localhost', 'Range: bytes=0-10,20-30', 'Accept-Encoding: gzip, br', 'If-None-Match: "abc"', ''),
  request('HEAD /missing HTTP/1.0', ''),
  Buffer.concat([request('POST / HTTP/1.1', 'Host: x', 'Content-Length: 5', ''), Buffer.from('hello')]),
  request('GET /%2e%2e/secret.txt HTTP/1.1', 'Host: x', ''),
  Buffer.concat([request('PUT /a HTTP/1.1', 'Host: x', 'Transfer-Encoding: chunked', ''), Buffer.from('5\r\nhello\r\n0\r\n\r\n')]),
  request('GET / HTTP/1.1', 'Host: x', 'Connection: keep-alive', '', 'GET /index.html HTTP/1.1', 'Host: x', 'Connection: close', ''),
  request('OPTIONS * HTTP/1.1', 'Host: x', ''),
  request('GET /docs/?sort=name&x=%ff HTTP/1.1', 'Host: x', 'If-Modified-Since: Sat, 01 Jan 2000 00:00:00 GMT', 'If-Range: "x"', 'Range: bytes=-5', ''),
];

/** One HTTP/2 frame: 24-bit length, type, flags, 31-bit stream id, payload. */
function frame(type: number, flags: number, stream: number, payload: Buffer = Buffer.alloc(0)): Buffer {
  const header = Buffer.alloc(9);
  header.writeUIntBE(payload.length, 0, 3);
  header[3] = type;
  header[4] = flags;
  header.writeUInt32BE(stream, 5);
  return Buffer.concat([header, payload]);
}
const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n');
const SETTINGS = frame(4, 0, 0, Buffer.from([0, 3, 0, 0, 0, 100, 0, 4, 0, 1, 0, 0])); // MAX_CONCURRENT_STREAMS 100, INITIAL_WINDOW_SIZE 65536
const SETTINGS_ACK = frame(4, 1, 0);
/** HPACK from the static table: GET, https, :path (indexed `/` or a literal), :authority localhost. */
function headers(stream: number, path = '/', flags = 0x5 /* END_STREAM | END_HEADERS */): Buffer {
  const pathField = path === '/' ? Buffer.from([0x84]) : Buffer.concat([Buffer.from([0x04, path.length]), Buffer.from(path)]);
  return frame(1, flags, stream, Buffer.concat([Buffer.from([0x82, 0x87]), pathField, Buffer.from([0x41, 9]), Buffer.from('localhost')]));
}
const WINDOW_UPDATE = frame(8, 0, 0, Buffer.from([0, 0, 0x10, 0]));
const PING = frame(6, 0, 0, Buffer.from('12345678'));
const RST_STREAM = (stream: number) => frame(3, 0, stream, Buffer.from([0, 0, 0, 8]));
const GOAWAY = frame(7, 0, 0, Buffer.from([0, 0, 0, 1, 0, 0, 0, 0]));
const DATA = (stream: number) => frame(0, 1, stream, Buffer.from('body'));

/** HTTP/2 connections: requests, several streams, window updates, pings, resets, a request with a body. */
const HTTP2_SEEDS = [
  Buffer.concat([PREFACE, SETTINGS, headers(1)]),
  Buffer.concat([PREFACE, SETTINGS, SETTINGS_ACK, headers(1, '/index.html'), headers(3, '/missing'), WINDOW_UPDATE, PING]),
  Buffer.concat([PREFACE, SETTINGS, headers(1, '/', 0x4 /* END_HEADERS: a body follows */), DATA(1), RST_STREAM(1), GOAWAY]),
  Buffer.concat([PREFACE, SETTINGS, headers(1, '/%2e%2e/secret.txt'), headers(3), headers(5), RST_STREAM(3)]),
];

const logs = new LogWatch();
let plain: HostedService;
let secure: HostedService;
const ca = readFileSync(TLS.cert);

beforeAll(async () => {
  const base = mkdtempSync(join(tmpdir(), 'wharf-fuzz-web-'));
  writeFileSync(join(base, 'secret.txt'), 'outside the root\n');
  const root = join(base, 'www');
  mkdirSync(root);
  writeFileSync(join(root, 'index.html'), INDEX);
  const common = { port: 0, root, watch: false, accessLog: 'off' };
  plain = await startHosted(webService, webConfigSchema.parse(common), logs);
  secure = await startHosted(webService, webConfigSchema.parse({ ...common, ...TLS }), logs);
});
afterAll(async () => {
  await plain?.host.stop(500);
  await secure?.host.stop(500);
});

describe('fuzzing web', () => {
  it.runIf(selected('web http1'))('web HTTP/1.1 survives mutated requests', { timeout: testTimeoutMs() }, async () => {
    const port = plain.port('tcp');
    const report = await fuzz(
      {
        name: 'web http1',
        seeds: HTTP1_SEEDS,
        deliver: (messages) => sendStreams(messages, { port }),
        async healthy() {
          const body = await new Promise<string>((resolve, reject) => {
            http
              .get({ host: '127.0.0.1', port, path: '/', agent: false }, (response) => {
                let text = '';
                response.setEncoding('utf8');
                response.on('data', (chunk: string) => (text += chunk));
                response.on('end', () => resolve(`${response.statusCode} ${text}`));
              })
              .on('error', reject);
          });
          expect(body).toBe(`200 ${INDEX}`);
        },
      },
      logs,
    );
    expect(report.batches).toBeGreaterThan(0);
  });

  it.runIf(selected('web http2'))('web HTTP/2 (over TLS) survives mutated frames', { timeout: testTimeoutMs() }, async () => {
    const port = secure.port('tcp');
    const report = await fuzz(
      {
        name: 'web http2',
        seeds: HTTP2_SEEDS,
        deliver: (messages) => sendStreams(messages, { port, tls: { alpn: ['h2'] } }),
        async healthy() {
          const session = http2.connect(`https://localhost:${port}`, { ca });
          try {
            const body = await new Promise<string>((resolve, reject) => {
              session.on('error', reject);
              const stream = session.request({ ':path': '/' });
              let text = '';
              let status = 0;
              stream.on('response', (headers) => (status = Number(headers[':status'])));
              stream.setEncoding('utf8');
              stream.on('data', (chunk: string) => (text += chunk));
              stream.on('end', () => resolve(`${status} ${text}`));
              stream.on('error', reject);
            });
            expect(body).toBe(`200 ${INDEX}`);
          } finally {
            session.close();
          }
        },
      },
      logs,
    );
    expect(report.batches).toBeGreaterThan(0);
  });
});
