/**
 * The diary's page (its built bundle, dist/portal/pages/diary.js) in headless Chromium, mounted
 * by a stand-in for the portal's shell: the page's own behaviour (writing, live arrivals, text
 * never markup, load older, a phone's width, Chinese) without the web service. The end-to-end
 * test through the real portal is test/interop/portal-diary.test.ts.
 */
import { readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Browser, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { PortalSection, PortalUser } from '../../../src/core/portal.js';
import { browserMissing, launchBrowser, newPerson } from '../../helpers/browser.js';
import { allEntries, seedSocket, startDiary, stopAll } from './support.js';

/** The shell's part: a PageContext over fetch, the way the portal's shell builds one. */
const SHELL = (user: PortalUser | undefined) => `<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>diary</title></head>
<body><p id="status" aria-live="polite"></p><main id="root"></main>
<script type="module">
import page from '/pages/diary.js';
const base = '/portal/api/diary';
const url = (path, query = {}) => {
  const params = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
  const search = params.toString();
  return base + path + (search ? '?' + search : '');
};
async function request(method, target, body, signal) {
  const response = await fetch(target, { method, headers: body === undefined ? {} : { 'Content-Type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body), signal });
  const data = await response.json();
  if (!response.ok) throw Object.assign(new Error(data.error), { status: response.status, code: data.code });
  return data;
}
const lang = navigator.language.startsWith('zh') ? 'zh' : 'en';
const ctx = {
  user: ${JSON.stringify(user ?? null)} ?? undefined,
  lang,
  t: (en, zh) => (lang === 'zh' ? zh : en),
  api: { url, get: (path, query, signal) => request('GET', url(path, query), undefined, signal), send: (method, path, body, signal) => request(method, url(path), body, signal) },
  signal: new AbortController().signal,
  announce: (text) => { document.getElementById('status').textContent = text; },
  navigate: () => undefined,
};
window.alerts = 0;
window.alert = () => { window.alerts += 1; };
await page.mount(document.getElementById('root'), ctx);
window.mounted = true;
</script></body></html>`;

async function serveWithShell(section: PortalSection, user: PortalUser | undefined): Promise<{ url: string; close(): Promise<void> }> {
  const script = readFileSync(section.script);
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname === '/') res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8' }).end(SHELL(user));
    else if (url.pathname === '/pages/diary.js') res.writeHead(200, { 'Content-Type': 'text/javascript' }).end(script);
    else if (url.pathname.startsWith('/portal/api/diary/')) {
      void section.handle!(req, res, { user, path: url.pathname.slice('/portal/api/diary'.length), query: url.searchParams, peer: '127.0.0.1', origin: 'http://127.0.0.1', secure: false });
    } else res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

const ALICE: PortalUser = { name: 'alice', admin: false };
let browser: Browser;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  if (browserMissing === undefined) browser = await launchBrowser();
});
afterAll(async () => {
  await browser?.close();
});
afterEach(async () => {
  for (const close of closers.splice(0).reverse()) await close();
  await stopAll();
});

async function openPage(user: PortalUser | undefined, options: { locale?: string; phone?: boolean; query?: string } = {}) {
  const fixture = await startDiary();
  await fixture.store.accounts.add('alice', 'alice-password');
  const site = await serveWithShell(fixture.server.portalSection(), user);
  closers.push(() => site.close());
  const context = await newPerson(browser, options);
  closers.push(() => context.close());
  const page = await context.newPage();
  const errors: string[] = [];
  page.on('pageerror', (error) => errors.push(error.message));
  await page.goto(`${site.url}${options.query ?? ''}`);
  await page.waitForFunction('window.mounted === true');
  return { ...fixture, page, errors };
}

const listTexts = (page: Page) => page.locator('.diary-entry .diary-text').allTextContents();

describe.skipIf(browserMissing !== undefined)("the diary's page", () => {
  it('writes an entry with Ctrl+Enter, exactly as typed, and shows it with its line breaks', async () => {
    const { page, store, errors } = await openPage(ALICE);
    await expect.poll(() => page.getByRole('button', { name: 'My diary' }).getAttribute('aria-pressed')).toBe('true');
    const text = '今天天气很好 ☀️🎉\n第二行  两个空格';
    await page.getByLabel('New entry').fill(text);
    await page.getByLabel('New entry').press('Control+Enter');
    await expect.poll(() => listTexts(page)).toEqual([text]);
    expect((await allEntries(store)).map((r) => [r.diary, r.text])).toEqual([['alice', text]]);
    const item = page.locator('.diary-entry .diary-text').first();
    expect(await page.evaluate("getComputedStyle(document.querySelector('.diary-entry .diary-text')).whiteSpace")).toBe('pre-wrap');
    expect(await item.innerText()).toBe(text);
    expect(await page.getByLabel('New entry').inputValue()).toBe('');
    // Written here: not announced as news, and shown once although the stream brings it too.
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(await listTexts(page)).toHaveLength(1);
    expect(errors).toEqual([]);
  });

  it('shows an entry a seed client sends over UDP without a reload, announced politely; markup stays text', async () => {
    const { page, port } = await openPage(ALICE, { query: '?diary=public' });
    await expect.poll(() => page.getByRole('button', { name: 'Public diary' }).getAttribute('aria-pressed')).toBe('true');
    await expect.poll(() => page.locator('.diary-live').textContent()).toBe('No entries yet.');
    const seed = await seedSocket(port);
    const hostile = ['<script>window.alerts += 100</script>', '<img src=x onerror="window.alerts += 1000">', 'from UDP 🛰️'];
    for (const text of hostile) await seed.ask(text);
    await expect.poll(() => listTexts(page)).toEqual([...hostile].reverse());
    await expect.poll(() => page.locator('.diary-live').textContent()).toBe('New entry: from UDP 🛰️');
    expect(await page.locator('.diary-live').getAttribute('aria-live')).toBe('polite');
    expect(await page.locator('.diary-entries img, .diary-entries script').count()).toBe(0);
    expect(await page.evaluate('window.alerts')).toBe(0);
    expect(await page.locator('.diary-by').first().textContent()).toBe(' · anonymous');
  });

  it('loads older entries, refuses an empty entry, and fits a phone in Chinese', async () => {
    const fixture = await startDiary();
    const seed = await seedSocket(fixture.port);
    for (let i = 1; i <= 55; i++) seed.send(`第 ${i} 篇`);
    await expect.poll(async () => (await allEntries(fixture.store)).length).toBe(55);
    const site = await serveWithShell(fixture.server.portalSection(), undefined);
    closers.push(() => site.close());
    const context = await newPerson(browser, { locale: 'zh-CN', phone: true });
    closers.push(() => context.close());
    const page = await context.newPage();
    await page.goto(site.url);
    await page.waitForFunction('window.mounted === true');
    expect(await page.locator('.diary-entry').count()).toBe(50);
    await page.getByRole('button', { name: '加载更早的日记' }).click();
    await expect.poll(() => page.locator('.diary-entry').count()).toBe(55);
    expect(await page.getByRole('button', { name: '加载更早的日记' }).isHidden()).toBe(true);
    expect(await page.getByRole('button', { name: '我的日记' }).count()).toBe(0);
    await page.getByRole('button', { name: '写入' }).click();
    await expect.poll(() => page.getByRole('alert').textContent()).toBe('请先写点什么。');
    // 390 px wide: nothing sticks out sideways.
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    // Times in the reader's locale (zh-CN writes 年 in dateStyle "medium").
    expect(await page.locator('.diary-entry time').first().textContent()).toMatch(/年/);
  });
});
