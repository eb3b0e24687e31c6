import { mkdirSync, mkdtempSync, readdirSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { ServiceHost } from '../../../src/core/host.js';
import { silentLogger, type Logger } from '../../../src/core/logger.js';
import { webConfigSchema, webService, type WebConfigInput } from '../../../src/services/web/server.js';

export const FIXTURES = join(import.meta.dirname, 'fixtures');

/** A tiny valid PNG (1×1, red). */
export const PNG_1X1 = Buffer.from('iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg==', 'base64');

export const CSS = `${'/* padding so the file is worth compressing */\n'.repeat(20)}body { color: rgb(10, 20, 30); }\n`;
export const BIG_TEXT = 'The quick brown fox jumps over the lazy dog.\n'.repeat(8_000); // ~350 KiB, streamed when the cache limit is lower

/** Deterministic pseudo-random bytes (a file that does not compress). */
export function noise(length: number, seed = 1): Buffer {
  const out = Buffer.alloc(length);
  let x = seed;
  for (let i = 0; i < length; i++) {
    x = (x * 1103515245 + 12345) & 0x7fffffff;
    out[i] = x >>> 16;
  }
  return out;
}

export interface Site {
  /** The parent folder: `root` and things that must stay out of reach (`secret.txt`). */
  base: string;
  root: string;
  secret: string;
  big: Buffer;
}

/**
 * A web root with what the tests need: pages, a compressible stylesheet, precompressed siblings,
 * binary files small and large, dotfiles, folders with and without index, symlinks in and out,
 * and a secret next to (not inside) the root.
 */
export function makeSite(options: { bigBytes?: number } = {}): Site {
  const base = mkdtempSync(join(tmpdir(), 'wharf-web-'));
  const root = join(base, 'www');
  mkdirSync(root);
  const secret = join(base, 'secret.txt');
  writeFileSync(secret, 'TOP-SECRET outside the root\n');
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>home</title><h1>home</h1>\n');
  writeFileSync(join(root, 'style.css'), CSS);
  writeFileSync(join(root, 'app.js'), 'document.title = "ran";\n');
  writeFileSync(join(root, 'pixel.png'), PNG_1X1);
  writeFileSync(join(root, 'data.bin'), noise(5_000));
  const big = noise(options.bigBytes ?? 300 * 1024, 7);
  writeFileSync(join(root, 'big.bin'), big);
  writeFileSync(join(root, 'big.txt'), BIG_TEXT);
  const pre = 'precompressed text '.repeat(100);
  writeFileSync(join(root, 'pre.txt'), pre);
  writeFileSync(join(root, 'pre.txt.gz'), gzipSync(pre));
  writeFileSync(join(root, 'pre.txt.br'), brotliCompressSync(pre));
  writeFileSync(join(root, 'empty.txt'), '');
  writeFileSync(join(root, '你好.txt'), '你好，世界\n');
  writeFileSync(join(root, 'a b.txt'), 'space\n');
  writeFileSync(join(root, '.env'), 'PASSWORD=hunter2\n');
  mkdirSync(join(root, '.git'));
  writeFileSync(join(root, '.git', 'config'), '[core]\n');
  mkdirSync(join(root, '.well-known'));
  writeFileSync(join(root, '.well-known', 'security.txt'), 'Contact: mailto:security@example.com\n');
  mkdirSync(join(root, 'docs'));
  writeFileSync(join(root, 'docs', 'index.html'), '<h1>docs</h1>\n');
  writeFileSync(join(root, 'docs', 'guide.html'), '<h1>guide</h1>\n');
  mkdirSync(join(root, 'files'));
  writeFileSync(join(root, 'files', 'one.txt'), '1\n');
  writeFileSync(join(root, 'files', 'two & <three>.txt'), '2\n');
  writeFileSync(join(root, 'files', '.hidden'), 'no\n');
  mkdirSync(join(root, 'files', 'nested'));
  // Files written long ago: a Last-Modified less than a second old is a weak validator (If-Range ignores it).
  const past = new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678));
  for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) utimesSync(join(entry.parentPath, entry.name), past, past);
  }
  symlinkSync(join(root, 'style.css'), join(root, 'link-in.css'));
  symlinkSync(secret, join(root, 'link-out.txt'));
  symlinkSync(base, join(root, 'dir-out'));
  return { base, root, secret, big };
}

export interface StartedWeb {
  host: ServiceHost;
  port: number;
  url: string;
  stop(): Promise<void>;
}

export async function startWeb(root: string | undefined, overrides: Partial<WebConfigInput> = {}, options: { logger?: Logger; dataDir?: string } = {}): Promise<StartedWeb> {
  const host = new ServiceHost({ logger: options.logger ?? silentLogger(), dataDir: options.dataDir ?? tmpdir() });
  const service = await host.start(webService, webConfigSchema.parse({ port: 0, ...(root === undefined ? {} : { root }), accessLog: 'off', ...overrides }));
  const port = service.addresses[0]!.port;
  return { host, port, url: `http://127.0.0.1:${port}`, stop: () => host.stop(500) };
}

export interface Response {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

/** One HTTP/1.1 request on a fresh connection; the body is returned as sent (no decompression). */
export function request(port: number, path: string, options: { method?: string; headers?: Record<string, string> } = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: '127.0.0.1', port, path, method: options.method ?? 'GET', headers: options.headers, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

/** Send raw bytes, return everything the server sends until it closes (or the timeout). */
export function rawExchange(port: number, data: string | Buffer, timeoutMs = 3_000): Promise<string> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    const chunks: Buffer[] = [];
    const done = () => {
      clearTimeout(timer);
      socket.destroy();
      resolve(Buffer.concat(chunks).toString('latin1'));
    };
    const timer = setTimeout(done, timeoutMs);
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    socket.on('error', done);
    socket.on('close', done);
    socket.on('connect', () => socket.write(data));
  });
}

/** Split a multipart/byteranges body into its parts. */
export function parseMultipart(body: Buffer, contentType: string): Array<{ headers: Record<string, string>; data: Buffer }> {
  const boundary = /boundary=([^;]+)/.exec(contentType)?.[1];
  if (!boundary) throw new Error(`no boundary in ${contentType}`);
  const text = body.toString('latin1');
  const parts: Array<{ headers: Record<string, string>; data: Buffer }> = [];
  const delimiter = `--${boundary}`;
  let at = text.indexOf(delimiter);
  while (at >= 0) {
    const afterDelimiter = at + delimiter.length;
    if (text.startsWith('--', afterDelimiter)) break;
    const headEnd = text.indexOf('\r\n\r\n', afterDelimiter);
    const headers: Record<string, string> = {};
    for (const line of text.slice(afterDelimiter + 2, headEnd).split('\r\n')) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
    }
    const next = text.indexOf(`\r\n${delimiter}`, headEnd);
    parts.push({ headers, data: body.subarray(headEnd + 4, next) });
    at = next + 2;
  }
  return parts;
}
