/**
 * A real browser against the web service: headless Chromium (Debian's `chromium` package, never
 * a downloaded browser) driven by playwright-core. It loads a page with a stylesheet, a script and
 * an image, then reloads it, and checks what a person would see and what the browser asked for.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hasTool } from '../helpers/tools.js';
import { makeSite, startWeb, type Site, type StartedWeb } from '../services/web/support.js';

// The few playwright-core types this test uses (the package is optional: see the skip below).
interface PwResponse {
  url(): string;
  status(): number;
  headers(): Record<string, string>;
}
interface PwPage {
  on(event: 'console', listener: (message: { type(): string; text(): string }) => void): void;
  on(event: 'pageerror', listener: (error: Error) => void): void;
  on(event: 'requestfailed', listener: (request: { url(): string; failure(): { errorText: string } | null }) => void): void;
  on(event: 'response', listener: (response: PwResponse) => void): void;
  goto(url: string, options?: { waitUntil?: 'load' | 'networkidle' }): Promise<PwResponse | null>;
  reload(options?: { waitUntil?: 'load' | 'networkidle' }): Promise<PwResponse | null>;
  evaluate<T>(script: string): Promise<T>;
  waitForFunction(script: string, arg?: unknown, options?: { timeout?: number }): Promise<unknown>;
}
interface PwBrowser {
  newPage(): Promise<PwPage>;
  close(): Promise<void>;
}
interface Playwright {
  chromium: { launch(options: { executablePath: string; headless: boolean; args?: string[] }): Promise<PwBrowser> };
}

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

async function loadPlaywright(): Promise<Playwright | string> {
  const name = 'playwright-core'; // not a literal import: the package is an optional devDependency
  try {
    return (await import(name)) as Playwright;
  } catch {
    return 'playwright-core is not installed (npm install --save-dev playwright-core)';
  }
}

const playwright = await loadPlaywright();
const reason =
  typeof playwright === 'string'
    ? playwright
    : CHROMIUM === undefined && !hasTool('chromium')
      ? "Debian's chromium is not installed (apt-get install chromium)"
      : undefined;
if (reason !== undefined && process.env.CI === 'true') throw new Error(`${reason}, but CI must provide it (.ci/run)`);

const PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>wharf browser test</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="style.css">
<script src="page.js" defer></script>
</head>
<body>
<h1>Hello from wharf</h1>
<img id="pixel" src="pixel.png" alt="a red pixel" width="1" height="1">
</body>
</html>
`;

const SCRIPT = `document.body.dataset.ran = 'yes';
fetch('big.bin', { headers: { Range: 'bytes=0-9' } })
  .then(async (r) => { document.body.dataset.range = r.status + ':' + (await r.arrayBuffer()).byteLength; })
  .catch((e) => { document.body.dataset.range = 'error ' + e; });
`;

describe.skipIf(reason !== undefined)(`web in a real browser${reason ? ` (skipped: ${reason})` : ''}`, () => {
  let site: Site;
  let web: StartedWeb;
  let browser: PwBrowser;

  beforeAll(async () => {
    site = makeSite();
    writeFileSync(join(site.root, 'browser.html'), PAGE);
    writeFileSync(join(site.root, 'page.js'), SCRIPT);
    web = await startWeb(site.root, { cacheMaxFileBytes: 64 * 1024 });
    browser = await (playwright as Playwright).chromium.launch({
      executablePath: CHROMIUM ?? 'chromium',
      headless: true,
      args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage'],
    });
  }, 60_000);
  afterAll(async () => {
    await browser?.close();
    await web?.stop();
    if (site) rmSync(site.base, { recursive: true, force: true });
  });

  it('loads a page with CSS, a script and an image, without a console error, then revalidates with 304s', async () => {
    const page = await browser.newPage();
    const problems: string[] = [];
    const responses: PwResponse[] = [];
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console: ${message.text()}`);
    });
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('requestfailed', (request) => problems.push(`failed: ${request.url()} ${request.failure()?.errorText ?? ''}`));
    page.on('response', (response) => responses.push(response));

    const first = await page.goto(`${web.url}/browser.html`, { waitUntil: 'load' });
    expect(first?.status()).toBe(200);
    await page.waitForFunction('document.body.dataset.range !== undefined', undefined, { timeout: 10_000 });
    expect(await page.evaluate<string>('getComputedStyle(document.body).color')).toBe('rgb(10, 20, 30)');
    expect(await page.evaluate<number>('document.getElementById("pixel").naturalWidth')).toBe(1);
    expect(await page.evaluate<string>('document.body.dataset.ran')).toBe('yes');
    // The browser's own range request: 206 with exactly the ten bytes.
    expect(await page.evaluate<string>('document.body.dataset.range')).toBe('206:10');

    const byName = (name: string) => responses.filter((r) => new URL(r.url()).pathname === `/${name}`);
    expect(byName('style.css')[0]?.status()).toBe(200);
    expect(byName('style.css')[0]?.headers()['content-encoding']).toBe('br'); // Chromium accepts brotli
    expect(byName('pixel.png')[0]?.status()).toBe(200);
    expect(byName('page.js')[0]?.status()).toBe(200);

    // A reload revalidates (Cache-Control: no-cache, ETag): the server answers 304.
    responses.length = 0;
    const again = await page.reload({ waitUntil: 'load' });
    // Chromium may fetch the document itself afresh; its subresources it revalidates.
    expect([200, 304]).toContain(again?.status());
    await page.waitForFunction('document.body.dataset.range !== undefined', undefined, { timeout: 10_000 });
    for (const name of ['style.css', 'page.js', 'pixel.png']) expect(byName(name)[0]?.status(), name).toBe(304);
    expect(await page.evaluate<string>('getComputedStyle(document.body).color')).toBe('rgb(10, 20, 30)');

    expect(problems).toEqual([]);
  }, 60_000);

  it('shows the helpful 404 page', async () => {
    const page = await browser.newPage();
    const response = await page.goto(`${web.url}/browser.htm`);
    expect(response?.status()).toBe(404);
    expect(await page.evaluate<string>('document.querySelector("a[href=\\"/browser.html\\"]")?.textContent ?? ""')).toBe('/browser.html');
  }, 30_000);
});
