import { existsSync, mkdtempSync, readFileSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { WebClient, partialPathFor } from '../../../src/services/web/client.js';
import { FIXTURES, makeSite, noise, startWeb, type Site, type StartedWeb } from './support.js';

const site: Site = makeSite();
const out = mkdtempSync(join(tmpdir(), 'wharf-web-get-'));
let web: StartedWeb;
const clients: WebClient[] = [];

beforeAll(async () => {
  web = await startWeb(site.root);
});
afterEach(async () => {
  await Promise.all(clients.splice(0).map((client) => client.close()));
});
afterAll(async () => {
  await web.stop();
  rmSync(site.base, { recursive: true, force: true });
  rmSync(out, { recursive: true, force: true });
});

async function client(): Promise<WebClient> {
  const made = await WebClient.connect(web.url);
  clients.push(made);
  return made;
}

/** A file in the web root, written long ago (a Last-Modified less than a second old is no validator). */
function publish(name: string, bytes: Buffer, mtimeMs = Date.UTC(2024, 5, 1)): void {
  writeFileSync(join(site.root, name), bytes);
  utimesSync(join(site.root, name), new Date(mtimeMs), new Date(mtimeMs));
}

describe('WebClient.get into a file', () => {
  it('downloads a file whole, reporting progress, and leaves no partial behind', async () => {
    const target = join(out, 'big.bin');
    const seen: number[] = [];
    let started: { offset: number; total: number | undefined } | undefined;
    const result = await (await client()).get('/big.bin', target, { onStart: (start) => (started = start), onProgress: (bytes) => seen.push(bytes) });
    expect(readFileSync(target).equals(site.big)).toBe(true);
    expect(result).toMatchObject({ status: 200, resumedFrom: 0, bytes: site.big.length, size: site.big.length });
    expect(started).toEqual({ offset: 0, total: site.big.length });
    expect(seen.at(-1)).toBe(site.big.length);
    expect(existsSync(partialPathFor(target))).toBe(false);
  });

  it('does not replace an existing file unless forced', async () => {
    const target = join(out, 'mine.txt');
    writeFileSync(target, 'my own words\n');
    await expect((await client()).get('/files/one.txt', target)).rejects.toMatchObject({ code: 'ETAKEN' });
    expect(readFileSync(target, 'utf8')).toBe('my own words\n');
    await (await client()).get('/files/one.txt', target, { force: true });
    expect(readFileSync(target, 'utf8')).toBe('1\n');
  });

  it('names a missing file with EMISSING and creates nothing', async () => {
    const target = join(out, 'nothing.txt');
    await expect((await client()).get('/no/such/file.txt', target)).rejects.toMatchObject({ code: 'EMISSING', message: expect.stringContaining('404') as unknown });
    expect(existsSync(target)).toBe(false);
    expect(existsSync(partialPathFor(target))).toBe(false);
  });

  it('follows the redirect of a folder URL to its slash', async () => {
    const target = join(out, 'docs.html');
    await (await client()).get('/docs', target);
    expect(readFileSync(target, 'utf8')).toBe('<h1>docs</h1>\n');
  });

  it('keeps an interrupted download and resumes it with a Range request, getting only the rest', async () => {
    const body = noise(4 * 1024 * 1024, 11);
    publish('resume.bin', body);
    const target = join(out, 'resume.bin');
    const controller = new AbortController();
    const first = await (await client())
      .get('/resume.bin', target, { signal: controller.signal, onProgress: (bytes) => bytes > 256 * 1024 && controller.abort() })
      .catch((error: unknown) => error);
    expect(first).toMatchObject({ code: 'EABORTED', message: expect.stringContaining('getting') as unknown });
    expect(existsSync(target)).toBe(false);
    const kept = readFileSync(partialPathFor(target));
    expect(kept.length).toBeGreaterThan(0);
    expect(kept.equals(body.subarray(0, kept.length))).toBe(true);

    let started: { offset: number; total: number | undefined } | undefined;
    const second = await (await client()).get('/resume.bin', target, { onStart: (start) => (started = start) });
    expect(second).toMatchObject({ status: 206, resumedFrom: kept.length, bytes: body.length - kept.length, size: body.length });
    expect(started).toEqual({ offset: kept.length, total: body.length });
    expect(readFileSync(target).equals(body)).toBe(true);
    expect(existsSync(partialPathFor(target))).toBe(false);
  });

  it('starts afresh when the file changed since the partial download (If-Range), never splicing two versions', async () => {
    const before = noise(2 * 1024 * 1024, 21);
    publish('changing.bin', before);
    const target = join(out, 'changing.bin');
    const controller = new AbortController();
    await (await client()).get('/changing.bin', target, { signal: controller.signal, onProgress: (bytes) => bytes > 128 * 1024 && controller.abort() }).catch(() => undefined);
    expect(existsSync(partialPathFor(target))).toBe(true);

    const after = noise(2 * 1024 * 1024, 22); // same size, other bytes, another time
    publish('changing.bin', after, Date.UTC(2024, 6, 1));
    const result = await (await client()).get('/changing.bin', target);
    expect(result).toMatchObject({ status: 200, resumedFrom: 0, bytes: after.length });
    expect(readFileSync(target).equals(after)).toBe(true);
  });

  it('starts afresh when asked not to resume', async () => {
    const body = noise(1024 * 1024, 31);
    publish('fresh.bin', body);
    const target = join(out, 'fresh.bin');
    const controller = new AbortController();
    await (await client()).get('/fresh.bin', target, { signal: controller.signal, onProgress: (bytes) => bytes > 64 * 1024 && controller.abort() }).catch(() => undefined);
    const result = await (await client()).get('/fresh.bin', target, { resume: false });
    expect(result.resumedFrom).toBe(0);
    expect(readFileSync(target).equals(body)).toBe(true);
  });
});

describe('WebClient', () => {
  it('streams a body into a writable (the seed 003 client: the answer printed)', async () => {
    const sink = new PassThrough();
    const chunks: Buffer[] = [];
    sink.on('data', (chunk: Buffer) => chunks.push(chunk));
    const result = await (await client()).get('/index.html', sink);
    expect(Buffer.concat(chunks).toString()).toBe('<!doctype html><title>home</title><h1>home</h1>\n');
    expect(result.contentType).toMatch(/^text\/html/);
  });

  it('answers small requests in memory, with a limit', async () => {
    const page = await (await client()).request('/files/one.txt');
    expect(page).toMatchObject({ status: 200, body: Buffer.from('1\n') });
    const small = await WebClient.connect(web.url, { maxBodyBytes: 1000 });
    clients.push(small);
    await expect(small.request('/big.bin')).rejects.toMatchObject({ code: 'EOVERLOAD' });
  });

  it('says nothing listens, and refuses URLs of another origin or scheme', async () => {
    const closed = await startWeb(site.root);
    const url = closed.url;
    await closed.stop();
    const gone = await WebClient.connect(url);
    clients.push(gone);
    await expect(gone.request('/')).rejects.toMatchObject({ code: 'ENOLISTENER' });
    await expect((await client()).request('http://example.com/')).rejects.toMatchObject({ code: 'EUSAGE' });
    await expect(WebClient.connect('ftp://127.0.0.1/')).rejects.toMatchObject({ code: 'EUSAGE' });
  });

  it('speaks HTTPS, trusting a self-signed server only when told to', async () => {
    const secure = await startWeb(site.root, { cert: join(FIXTURES, 'localhost.crt'), key: join(FIXTURES, 'localhost.key') });
    try {
      const origin = `https://localhost:${secure.port}`;
      const untrusting = await WebClient.connect(origin);
      clients.push(untrusting);
      await expect(untrusting.request('/files/one.txt')).rejects.toMatchObject({ code: 'ETLS', message: expect.stringMatching(/certificate/) as unknown });
      const trusting = await WebClient.connect(origin, { ca: readFileSync(join(FIXTURES, 'localhost.crt')) });
      clients.push(trusting);
      const target = join(out, 'secure-big.bin');
      await trusting.get('/big.bin', target);
      expect(readFileSync(target).equals(site.big)).toBe(true);
    } finally {
      await secure.stop();
    }
  });

  it('close() closes its kept-alive connections: the server has none open afterwards', async () => {
    const made = await WebClient.connect(web.url);
    await made.request('/files/one.txt');
    await made.request('/app.js');
    const metrics = web.host.metrics.for('web');
    expect(metrics.connectionsOpen).toBe(1);
    await made.close();
    await expect.poll(() => metrics.connectionsOpen, { timeout: 2_000 }).toBe(0);
    await expect(made.request('/')).rejects.toMatchObject({ code: 'ECLOSED' });
  });
});
