/**
 * The files page through the whole portal in Chromium (issue #19): the ftp service and the web
 * portal in one host, signed in through the form. A 50 MB file uploaded in the page (by the file
 * picker and by a drop) is fetched with curl over FTP, sha256 equal; the reverse (curl -T, then
 * the page's download); a file name that is markup shows as text; an upload over quota is refused
 * in the page with the quota's words and nothing is stored.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ftpService, type FtpRunningService } from '../../src/services/ftp/server.js';
import { browserMissing, launchBrowser, newPage } from '../helpers/browser.js';
import { signIn, startPortal, type StartedPortal } from '../helpers/portal.js';
import { freePortRange } from '../services/ftp/support.js';

const run = promisify(execFile);
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const MB = 1024 * 1024;

describe.skipIf(browserMissing !== undefined)(`the files page through the portal${browserMissing === undefined ? '' : ` (skipped: ${browserMissing})`}`, () => {
  let portal: StartedPortal;
  let ftp: FtpRunningService;
  let browser: Browser;
  let scratch: string;
  const dialogs: string[] = [];
  const ftpUrl = (path: string) => `ftp://127.0.0.1:${ftp.port}/${path}`;

  async function person(name: string): Promise<Page> {
    const page = await newPage(browser, dialogs);
    await signIn(page, portal, name, 'secret');
    await openFiles(page);
    return page;
  }

  async function openFiles(page: Page): Promise<void> {
    await page.goto(`${portal.url}/files`);
    await expect.poll(() => page.locator('html').getAttribute('data-ready'), { timeout: 10_000 }).toBe('/files');
  }

  async function uploadFinished(page: Page, name: string): Promise<void> {
    const item = page.locator('.files-uploads li', { hasText: name });
    await item.getByText('100% — done').waitFor({ timeout: 20_000 });
    const bar = item.locator('progress');
    expect(await bar.getAttribute('aria-label')).toBe(`Uploading ${name}`);
    expect(await bar.evaluate((element) => (element as unknown as { value: number }).value === (element as unknown as { max: number }).max)).toBe(true);
  }

  async function curlGet(path: string): Promise<Buffer> {
    const out = join(scratch, `fetched-${randomBytes(4).toString('hex')}`);
    await run('curl', ['-sS', '--fail', '-u', 'alice:secret', ftpUrl(path), '-o', out]);
    return readFile(out);
  }

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'wharf-portal-files-'));
    portal = await startPortal({
      services: [{ definition: ftpService, config: { passivePorts: await freePortRange(20) } }],
      accounts: [
        { name: 'alice', password: 'secret' },
        { name: 'carol', password: 'secret', quota: MB },
      ],
    });
    ftp = portal.services.get('ftp') as FtpRunningService;
    browser = await launchBrowser();
  }, 30_000);

  afterAll(async () => {
    await browser?.close();
    await portal?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  it('uploads 50 MB by the picker and 50 MB by a drop; curl fetches the same bytes over FTP', async () => {
    const page = await person('alice');
    const data = randomBytes(50 * MB);
    const local = join(scratch, 'picked.bin');
    await writeFile(local, data);
    await page.setInputFiles('#files-picker', local);
    await uploadFinished(page, 'picked.bin');
    expect(sha256(await curlGet('picked.bin'))).toBe(sha256(data));
    // The drop: a 50 MB file made in the page (browser code as text: these tests have no DOM types).
    const digest = await page.evaluate<string>(`(async (size) => {
      const bytes = new Uint8Array(size);
      for (let i = 0; i < size; i += 65536) crypto.getRandomValues(bytes.subarray(i, Math.min(size, i + 65536)));
      const transfer = new DataTransfer();
      transfer.items.add(new File([bytes], 'dropped.bin'));
      const zone = document.querySelector('[data-testid="drop-zone"]');
      zone.dispatchEvent(new DragEvent('dragover', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      zone.dispatchEvent(new DragEvent('drop', { dataTransfer: transfer, bubbles: true, cancelable: true }));
      return [...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join('');
    })(${50 * MB})`);
    await uploadFinished(page, 'dropped.bin');
    expect(sha256(await curlGet('dropped.bin'))).toBe(digest);
    await page.context().close();
  }, 40_000);

  it('downloads in the page what curl -T sent over FTP; a name that is markup shows as text', async () => {
    const data = randomBytes(3 * MB);
    const local = join(scratch, 'from-ftp.bin');
    await writeFile(local, data);
    await run('curl', ['-sS', '--fail', '-u', 'alice:secret', '-T', local, ftpUrl('')]);
    const name = '<img src=x onerror=alert(1)>.txt';
    await writeFile(join(scratch, 'markup.txt'), 'plain');
    await run('curl', ['-sS', '--fail', '-u', 'alice:secret', '-T', join(scratch, 'markup.txt'), ftpUrl(encodeURIComponent(name))]);
    const page = await person('alice');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'from-ftp.bin' }).click()]);
    expect(download.suggestedFilename()).toBe('from-ftp.bin');
    expect(sha256(await readFile((await download.path()) as string))).toBe(sha256(data));
    await page.getByRole('link', { name }).waitFor();
    expect(await page.locator('main img').count()).toBe(0);
    expect(dialogs).toEqual([]);
    await page.context().close();
  }, 30_000);

  it('refuses an upload over quota in the page, with the quota’s words, and stores nothing', async () => {
    const page = await person('carol');
    await page.locator('.files-quota progress').waitFor();
    const local = join(scratch, 'too-big.bin');
    await writeFile(local, randomBytes(2 * MB));
    await page.setInputFiles('#files-picker', local);
    await page.locator('.files-uploads li', { hasText: 'too-big.bin' }).getByText(/Not enough room in your quota/).waitFor({ timeout: 10_000 });
    expect(await readdir(join(ftp.root, 'users', 'carol'))).toEqual([]);
    expect((await portal.store.quota.usage('carol')).bytesUsed).toBe(0);
    await page.context().close();
  }, 20_000);
});
