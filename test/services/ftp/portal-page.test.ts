/**
 * The files page in Chromium against a real FTP server's files section (portal-page-harness.ts):
 * a 50 MB upload by the file picker and one by a drop, each fetched back with curl over FTP
 * (sha256 equal); the reverse (curl -T, then the page's download); a resume after a reload; a
 * file name that is markup shows as text; an upload over quota is refused with the quota's words
 * and leaves nothing behind. The same scenarios run through the web portal in
 * test/interop/portal-files.test.ts once it exists.
 */
import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { browserMissing, launchBrowser, newPerson } from '../../helpers/browser.js';
import { startFilesPageHarness, type FilesPageHarness } from './portal-page-harness.js';

const run = promisify(execFile);
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
const MB = 1024 * 1024;

describe.skipIf(browserMissing !== undefined)('files page in a browser (harness)', () => {
  let harness: FilesPageHarness;
  let browser: Browser;
  let page: Page;
  let scratch: string;
  const ftpUrl = (path: string) => `ftp://127.0.0.1:${harness.ftp.port}/${path}`;
  const curlGet = async (path: string, account = 'alice') => {
    const out = join(scratch, `fetched-${randomBytes(4).toString('hex')}`);
    await run('curl', ['-sS', '--fail', '-u', `${account}:secret`, ftpUrl(path), '-o', out]);
    return readFile(out);
  };

  beforeAll(async () => {
    scratch = await mkdtemp(join(tmpdir(), 'wharf-files-page-test-'));
    harness = await startFilesPageHarness([{ name: 'alice' }, { name: 'carol', quota: 1 * MB }]);
    browser = await launchBrowser();
    page = await (await newPerson(browser)).newPage();
    page.on('dialog', (dialog) => void dialog.accept());
    await page.goto(harness.url);
    await page.waitForSelector('body[data-ready="1"]');
  }, 30_000);
  afterAll(async () => {
    await browser?.close();
    await harness?.stop();
    await rm(scratch, { recursive: true, force: true });
  });

  async function uploadFinished(name: string): Promise<void> {
    const item = page.locator('.files-uploads li', { hasText: name });
    await item.getByText('100% — done').waitFor({ timeout: 20_000 });
    const bar = item.locator('progress');
    expect(await bar.getAttribute('aria-label')).toBe(`Uploading ${name}`);
    expect(await bar.evaluate((element) => (element as unknown as { value: number; max: number }).value === (element as unknown as { max: number }).max)).toBe(true);
  }

  it('uploads 50 MB by the file picker; curl fetches the same bytes over FTP', async () => {
    const data = randomBytes(50 * MB);
    const local = join(scratch, 'picked.bin');
    await writeFile(local, data);
    await page.setInputFiles('#files-picker', local);
    await uploadFinished('picked.bin');
    await page.getByRole('link', { name: 'picked.bin' }).waitFor();
    expect(sha256(await curlGet('picked.bin'))).toBe(sha256(data));
  }, 40_000);

  it('uploads 50 MB dropped on the page; curl fetches the same bytes', async () => {
    // Browser code as text (the tests compile without DOM types): a 50 MB file made in the page, dropped.
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
    await uploadFinished('dropped.bin');
    expect(sha256(await curlGet('dropped.bin'))).toBe(digest);
  }, 40_000);

  it('downloads in the page what curl -T uploaded over FTP', async () => {
    const data = randomBytes(3 * MB);
    const local = join(scratch, 'from-ftp.bin');
    await writeFile(local, data);
    await run('curl', ['-sS', '--fail', '-u', 'alice:secret', '-T', local, ftpUrl('')]);
    await page.reload();
    await page.waitForSelector('body[data-ready="1"]');
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('link', { name: 'from-ftp.bin' }).click()]);
    expect(download.suggestedFilename()).toBe('from-ftp.bin');
    expect(sha256(await readFile((await download.path()) as string))).toBe(sha256(data));
  }, 20_000);

  it('resumes an upload after a reload from where the server stands', async () => {
    const data = randomBytes(24 * MB);
    const local = join(scratch, 'resumed.bin');
    await writeFile(local, data);
    await page.route('**/portal/api/files/upload/*?offset=*', async (route) => {
      // Slow the chunks down so that the reload lands mid-upload.
      await new Promise((r) => setTimeout(r, 300));
      await route.continue();
    });
    await page.setInputFiles('#files-picker', local);
    // Polled from here: waitForFunction would evaluate text in the page, which its CSP forbids.
    for (let waited = 0; (await page.evaluate<number>(`document.querySelector('.files-uploads li progress')?.value ?? 0`)) < 8 * MB; waited += 50) {
      if (waited > 15_000) throw new Error('the upload did not start');
      await new Promise((r) => setTimeout(r, 50));
    }
    await page.unroute('**/portal/api/files/upload/*?offset=*');
    await page.reload();
    await page.waitForSelector('body[data-ready="1"]');
    await page.getByText('Interrupted upload: /resumed.bin').waitFor();
    const offsets: number[] = [];
    page.on('request', (request) => {
      const offset = new URL(request.url()).searchParams.get('offset');
      if (request.method() === 'PUT' && offset !== null) offsets.push(Number(offset));
    });
    await page.setInputFiles('#files-picker', local);
    await uploadFinished('resumed.bin');
    expect(offsets[0]).toBeGreaterThan(0);
    expect(sha256(await curlGet('resumed.bin'))).toBe(sha256(data));
  }, 40_000);

  it('shows a file named like markup as text, and runs nothing', async () => {
    const name = '<img src=x onerror=alert(1)>.txt';
    const local = join(scratch, 'markup.txt');
    await writeFile(local, 'plain text');
    await run('curl', ['-sS', '--fail', '-u', 'alice:secret', '-T', local, ftpUrl(encodeURIComponent(name))]);
    const dialogs: string[] = [];
    page.on('dialog', (dialog) => dialogs.push(dialog.message()));
    await page.reload();
    await page.waitForSelector('body[data-ready="1"]');
    await page.getByRole('link', { name }).waitFor();
    expect(await page.locator('#root img').count()).toBe(0);
    expect(dialogs).toEqual([]);
  }, 20_000);

  it('refuses an upload over the quota in the page, with the quota’s words, and stores nothing', async () => {
    harness.user = { name: 'carol', admin: false };
    try {
      await page.reload();
      await page.waitForSelector('body[data-ready="1"]');
      const local = join(scratch, 'too-big.bin');
      await writeFile(local, randomBytes(2 * MB));
      await page.setInputFiles('#files-picker', local);
      await page.locator('.files-uploads li', { hasText: 'too-big.bin' }).getByText(/Not enough room in your quota/).waitFor();
      await page.getByRole('alert').getByText(/quota/).waitFor();
      expect(await readdir(harness.home('carol'))).toEqual([]);
      expect((await harness.store.quota.usage('carol')).bytesUsed).toBe(0);
    } finally {
      harness.user = { name: 'alice', admin: false };
    }
  }, 20_000);

  it('works at a phone’s width: the table fits 390 px', async () => {
    const phone = await (await newPerson(browser, { phone: true })).newPage();
    await phone.goto(harness.url);
    await phone.waitForSelector('body[data-ready="1"]');
    const width = await phone.evaluate<number>('document.documentElement.scrollWidth');
    expect(width).toBeLessThanOrEqual(390);
    await phone.close();
  }, 20_000);
});
