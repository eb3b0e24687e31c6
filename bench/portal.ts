/**
 * `node --import tsx bench/portal.ts [--write] [--no-screenshots]`
 *
 * The browser portal's page weight and time to interactive (issue #19, "Made with care"), and
 * its screenshots for docs/portal.md. Starts every service that has a page (as `wharf serve`
 * does, on free ports, in a fresh data folder) with the portal on, then opens each page the
 * server offers in Debian's Chromium with an empty cache: the home page and the sign-in page as
 * a visitor, every section as an admin. For each page:
 *   bytes    what crossed the wire (headers and bodies as sent: brotli), every request of the load
 *   TTI      from the navigation's start to the shell's `portal-ready` mark (the page mounted)
 *   FCP      first contentful paint
 * Screenshots at desktop (1280×800) and phone (390×844) width go to docs/portal/<page>-<width>.png.
 * With --write the table replaces the one between the markers in docs/portal.md.
 */
import { readdirSync, readFileSync, statSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Browser, BrowserContext } from 'playwright-core';
import { loadDefinitions } from '../src/cli/services.js';
import { DESKTOP, PHONE, launchBrowser, browserMissing } from '../test/helpers/browser.js';
import { pageReady, startPortal, type StartedPortal } from '../test/helpers/portal.js';
import { PortalClient, rawRequest } from '../test/services/web/portal-support.js';
import WebSocket from 'ws';

const root = join(import.meta.dirname, '..');
const shots = join(root, 'docs', 'portal');
const args = new Set(process.argv.slice(2));
const ADMIN = { name: 'ada', password: 'ada-portal-bench', admin: true };

interface Measure {
  page: string;
  who: string;
  bytes: number;
  requests: number;
  ttiMs: number;
  fcpMs: number;
}

/** Every service that `wharf serve` starts by default, but web (the portal adds it) and discovery (broadcasts). */
async function portal(): Promise<StartedPortal> {
  const definitions = (await loadDefinitions()).filter((definition) => definition.namedOnly !== true && definition.name !== 'web' && definition.name !== 'discovery');
  const base = 40_000 + Math.floor(Math.random() * 20_000);
  return startPortal({
    services: definitions.map((definition) => ({ definition, config: definition.name === 'ftp' ? { passivePorts: `${base}-${base + 19}` } : {} })),
    accounts: [ADMIN, { name: 'alice', password: 'alice-portal-bench' }],
  });
}

async function sessionCookie(url: string): Promise<string> {
  const client = new PortalClient(url);
  const answer = await client.signIn(ADMIN.name, ADMIN.password);
  if (answer.status !== 200) throw new Error(`cannot sign in as ${ADMIN.name}: ${answer.text}`);
  return client.cookies.get('wharf_session')!;
}

/**
 * A little of everything, so the screenshots show pages in use: a chat line, an entry in each
 * diary, a folder and a file, each through the portal's own API as the admin.
 */
async function seedContent(url: string): Promise<void> {
  const admin = new PortalClient(url);
  await admin.signIn(ADMIN.name, ADMIN.password);
  const cookie = [...admin.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
  await admin.call('POST', '/portal/api/diary/entries', { body: { diary: 'public', text: '今天天气很好 ☀️ The first entry of the public diary, written in the portal.' } });
  await admin.call('POST', '/portal/api/diary/entries', { body: { diary: 'mine', text: 'Make an administrator: wharf user add NAME --admin\n管理员可以在 Admin 页面添加账户。' } });
  await admin.call('POST', '/portal/api/files/folder', { body: { path: '/photos' } });
  const bytes = Buffer.from('Notes kept in my FTP home.\n我的笔记。\n');
  const upload = await admin.call('POST', '/portal/api/files/upload', { body: { path: '/notes.txt', size: bytes.length } });
  await rawRequest(url, 'PUT', `/portal/api/files/upload/${upload.json.id}?offset=0`, { Origin: admin.origin, 'X-CSRF-Token': admin.csrf, Cookie: cookie, 'Content-Type': 'application/octet-stream' }, bytes);
  await admin.call('POST', `/portal/api/files/upload/${upload.json.id}/finish`, { body: {} });
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/portal/api/chat/socket`, { headers: { Origin: admin.origin, Cookie: cookie } });
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string };
      if (message.type === 'hello') socket.send(JSON.stringify({ type: 'join', room: 'lobby' }));
      if (message.type === 'synced') socket.send(JSON.stringify({ type: 'say', text: '大家好 👋 Hello from the portal: the seed clients in this room read this too.' }));
      if (message.type === 'msg') resolve();
    });
  });
  socket.close(1000);
}

async function person(browser: Browser, url: string, cookie: string | undefined, phone: boolean): Promise<BrowserContext> {
  const context = await browser.newContext({ viewport: phone ? PHONE : DESKTOP, locale: 'en-US', ...(phone ? { isMobile: true, hasTouch: true } : {}) });
  if (cookie !== undefined) await context.addCookies([{ name: 'wharf_session', value: cookie, url, httpOnly: true, sameSite: 'Strict' }]);
  return context;
}

/** Open `path` cold; measure the load, then take the screenshots. */
async function measure(browser: Browser, url: string, path: string, name: string, cookie: string | undefined, screenshots = !args.has('--no-screenshots')): Promise<Measure> {
  const context = await person(browser, url, cookie, false);
  const page = await context.newPage();
  let bytes = 0;
  let requests = 0;
  const sizes: Array<Promise<void>> = [];
  page.on('requestfinished', (request) => {
    requests++;
    sizes.push(request.sizes().then((size) => void (bytes += size.responseHeadersSize + size.responseBodySize)));
  });
  await page.goto(`${url}${path}`);
  await pageReady(page, path.split('?')[0] ?? path);
  await page.waitForLoadState('networkidle');
  await Promise.all(sizes);
  const timing = (await page.evaluate(`({
    tti: performance.getEntriesByName('portal-ready')[0]?.startTime ?? NaN,
    fcp: performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN,
  })`)) as { tti: number; fcp: number };
  if (screenshots) {
    mkdirSync(shots, { recursive: true });
    await page.screenshot({ path: join(shots, `${name}-desktop.png`), fullPage: true });
    const phone = await person(browser, url, cookie, true);
    const small = await phone.newPage();
    await small.goto(`${url}${path}`);
    await pageReady(small, path.split('?')[0] ?? path);
    await small.waitForLoadState('networkidle');
    await small.screenshot({ path: join(shots, `${name}-phone.png`), fullPage: true });
    await phone.close();
  }
  await context.close();
  return { page: path, who: cookie === undefined ? 'visitor' : 'admin', bytes, requests, ttiMs: timing.tti, fcpMs: timing.fcp };
}

function builtFiles(): string {
  const dir = join(root, 'dist', 'portal');
  const files = ['shell.js', 'portal.css', ...readdirSync(join(dir, 'pages')).filter((file) => file.endsWith('.js')).map((file) => `pages/${file}`)];
  const rows = files.map((file) => `| ${file} | ${statSync(join(dir, file)).size} | ${statSync(join(dir, `${file}.br`)).size} |`);
  return ['| file | bytes | brotli |', '|---|---:|---:|', ...rows].join('\n');
}

async function main(): Promise<void> {
  if (browserMissing !== undefined) throw new Error(browserMissing);
  const started = await portal();
  const browser = await launchBrowser();
  try {
    await seedContent(started.url);
    const cookie = await sessionCookie(started.url);
    const sections = (await new PortalClient(started.url).session()).json.sections as Array<{ id: string }>;
    // A first load, not counted: the browser's own start-up (its processes, its caches of code).
    await measure(browser, started.url, '/signin', 'warm-up', undefined, false);
    const measures: Measure[] = [];
    measures.push(await measure(browser, started.url, '/', 'home', undefined));
    measures.push(await measure(browser, started.url, '/signin', 'signin', undefined));
    measures.push(await measure(browser, started.url, '/', 'home-signed-in', cookie));
    for (const section of sections) measures.push(await measure(browser, started.url, section.id === 'dict' ? '/dict?q=harbor' : `/${section.id}`, section.id, cookie));
    const table = [
      `Measured by \`node --import tsx bench/portal.ts\` (${new Date().toISOString().slice(0, 10)}, Chromium ${browser.version()}, loopback, empty cache).`,
      '',
      '| page | as | bytes over the wire | requests | time to interactive | first paint |',
      '|---|---|---:|---:|---:|---:|',
      ...measures.map((m) => `| \`${m.page}\` | ${m.who} | ${(m.bytes / 1000).toFixed(1)} kB | ${m.requests} | ${Math.round(m.ttiMs)} ms | ${Math.round(m.fcpMs)} ms |`),
      '',
      'The built files (dist/portal/, served precompressed):',
      '',
      builtFiles(),
    ].join('\n');
    process.stdout.write(`${table}\n`);
    if (args.has('--write')) {
      const doc = join(root, 'docs', 'portal.md');
      const text = readFileSync(doc, 'utf8');
      const start = '<!-- portal-bench:start -->';
      const end = '<!-- portal-bench:end -->';
      const from = text.indexOf(start);
      const to = text.indexOf(end);
      if (from < 0 || to < from) throw new Error(`docs/portal.md has no ${start} … ${end} markers`);
      writeFileSync(doc, `${text.slice(0, from + start.length)}\n${table}\n${text.slice(to)}`);
    }
  } finally {
    await browser.close();
    await started.stop();
  }
}

await main();
