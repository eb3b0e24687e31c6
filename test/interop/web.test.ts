import { readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { formatHttpDate } from '../../src/services/web/protocol.js';
import { runTool, skipReason } from '../helpers/tools.js';
import { BIG_TEXT, CSS, FIXTURES, makeSite, parseMultipart, startWeb, type Site, type StartedWeb } from '../services/web/support.js';

const noCurl = skipReason('curl');
const skipped = noCurl ? ` (skipped: ${noCurl})` : '';

let site: Site;
let web: StartedWeb;
let tls: StartedWeb;

beforeAll(async () => {
  site = makeSite();
  web = await startWeb(site.root, { cacheMaxFileBytes: 64 * 1024 });
  tls = await startWeb(site.root, { cert: join(FIXTURES, 'localhost.crt'), key: join(FIXTURES, 'localhost.key') });
});
afterAll(async () => {
  await Promise.all([web?.stop(), tls?.stop()]);
  rmSync(site.base, { recursive: true, force: true });
});

async function curl(...args: string[]): Promise<{ code: number | null; out: Buffer; text: string; stderr: string }> {
  const result = await runTool('curl', ['--silent', '--show-error', ...args], { timeoutMs: 10_000 });
  return { code: result.code, out: result.stdout, text: result.stdout.toString('latin1'), stderr: result.stderr };
}

/** `-D -` output: the header block, then the body. */
function split(text: string): { status: number; headers: Record<string, string>; body: string } {
  const end = text.indexOf('\r\n\r\n');
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) headers[line.slice(0, line.indexOf(':')).toLowerCase()] = line.slice(line.indexOf(':') + 1).trim();
  return { status: Number(statusLine!.split(' ')[1]), headers, body: text.slice(end + 4) };
}

describe.skipIf(noCurl)(`web with curl${skipped}`, () => {
  it('GET and HEAD (-I)', async () => {
    const get = await curl('-D', '-', `${web.url}/style.css`);
    const { status, headers, body } = split(get.text);
    expect(status).toBe(200);
    expect(body).toBe(CSS);
    expect(headers['content-type']).toBe('text/css; charset=utf-8');
    const head = split((await curl('-I', `${web.url}/style.css`)).text);
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(CSS.length));
    expect(head.body).toBe('');
  });

  it('ranges: -r single, suffix and several (multipart)', async () => {
    expect((await curl('-r', '0-9', `${web.url}/big.bin`)).out.equals(site.big.subarray(0, 10))).toBe(true);
    expect((await curl('-r', '-100', `${web.url}/big.bin`)).out.equals(site.big.subarray(site.big.length - 100))).toBe(true);
    expect((await curl('-r', '100-', `${web.url}/style.css`)).text).toBe(CSS.slice(100));
    const multi = await curl('-D', '-', '-r', '0-4,10-14', `${web.url}/style.css`);
    const { status, headers } = split(multi.text);
    expect(status).toBe(206);
    const body = multi.out.subarray(multi.out.indexOf('\r\n\r\n') + 4);
    const parts = parseMultipart(body, headers['content-type']!);
    expect(parts.map((p) => p.data.toString())).toEqual([CSS.slice(0, 5), CSS.slice(10, 15)]);
    const unsatisfiable = await curl('-o', '/dev/null', '-w', '%{http_code}', '-r', '999999-', `${web.url}/style.css`);
    expect(unsatisfiable.text).toBe('416');
  });

  it('resumes a download with -C -', async () => {
    const file = join(site.base, 'resume.bin');
    writeFileSync(file, site.big.subarray(0, 12_345));
    const result = await curl('-C', '-', '-o', file, `${web.url}/big.bin`);
    expect(result.code).toBe(0);
    expect(readFileSync(file).equals(site.big)).toBe(true);
  });

  it('conditional GET with -z (If-Modified-Since and If-Unmodified-Since)', async () => {
    const future = formatHttpDate(Date.now() + 86_400_000);
    const past = formatHttpDate(0);
    expect((await curl('-o', '/dev/null', '-w', '%{http_code}', '-z', future, `${web.url}/style.css`)).text).toBe('304');
    expect((await curl('-o', '/dev/null', '-w', '%{http_code}', '-z', past, `${web.url}/style.css`)).text).toBe('200');
    expect((await curl('-o', '/dev/null', '-w', '%{http_code}', '-z', `-${past}`, `${web.url}/style.css`)).text).toBe('412');
    // -z FILE: the local copy's mtime.
    const copy = join(site.base, 'copy.css');
    writeFileSync(copy, CSS);
    expect((await curl('-o', '/dev/null', '-w', '%{http_code}', '-z', copy, `${web.url}/style.css`)).text).toBe('304');
    utimesSync(copy, new Date(0), new Date(0));
    expect((await curl('-o', '/dev/null', '-w', '%{http_code}', '-z', copy, `${web.url}/big.bin`)).text).toBe('200');
    expect(statSync(copy).mtimeMs).toBe(0);
  });

  it('ETags with --etag-save / --etag-compare', async () => {
    const etag = join(site.base, 'etag.txt');
    expect((await curl('-o', '/dev/null', '-w', '%{http_code}', '--etag-save', etag, `${web.url}/big.bin`)).text).toBe('200');
    expect(readFileSync(etag, 'utf8')).toMatch(/^"[0-9a-f]+-[0-9a-f]+"/);
    expect((await curl('-o', '/dev/null', '-w', '%{http_code}', '--etag-compare', etag, `${web.url}/big.bin`)).text).toBe('304');
  });

  it('--compressed gets brotli (or gzip) and curl decodes it', async () => {
    const result = await curl('-D', '-', '--compressed', `${web.url}/style.css`);
    const { headers, body } = split(result.text);
    expect(['br', 'gzip']).toContain(headers['content-encoding']);
    expect(body).toBe(CSS);
    const big = await curl('--compressed', `${web.url}/big.txt`);
    expect(big.text).toBe(BIG_TEXT);
  });

  it('keeps one connection for several URLs', async () => {
    const result = await curl('-o', '/dev/null', '-o', '/dev/null', '-o', '/dev/null', '-w', '%{num_connects}\\n', `${web.url}/style.css`, `${web.url}/app.js`, `${web.url}/big.bin`);
    expect(result.text.trim().split('\n')).toEqual(['1', '0', '0']);
  });

  it('refuses traversal with --path-as-is', async () => {
    for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/..%2fsecret.txt', '/link-out.txt']) {
      const result = await curl('--path-as-is', '-w', '\\n%{http_code}', `${web.url}${path}`);
      expect(result.text).not.toContain('TOP-SECRET');
      expect(['400', '404']).toContain(result.text.split('\n').pop());
    }
  });

  it('HTTP/2 over TLS (--http2), and HTTP/1.1 on the same port', async () => {
    const ca = join(FIXTURES, 'localhost.crt');
    const resolve = `localhost:${tls.port}:127.0.0.1`;
    const h2 = await curl('--http2', '--cacert', ca, '--resolve', resolve, '-o', '/dev/null', '-w', '%{http_version} %{http_code}', `https://localhost:${tls.port}/style.css`);
    expect(h2.text).toBe('2 200');
    const range = await curl('--http2', '--cacert', ca, '--resolve', resolve, '-r', '0-9', `https://localhost:${tls.port}/big.bin`);
    expect(range.out.equals(site.big.subarray(0, 10))).toBe(true);
    const h1 = await curl('--http1.1', '--cacert', ca, '--resolve', resolve, '-w', '\\n%{http_version}', `https://localhost:${tls.port}/style.css`);
    expect(h1.text).toBe(`${CSS}\n1.1`);
  });
});
