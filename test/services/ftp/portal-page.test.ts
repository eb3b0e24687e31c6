/**
 * The files page in Chromium against a real FTP server's files section (portal-page-harness.ts,
 * no web portal around it): a resume after a reload carries on from where the server stands, an
 * upload over quota is refused with the quota's words, and the page fits a phone's width. The
 * 50 MB uploads and downloads, markup names and quota through the whole portal are in
 * test/interop/portal-files.test.ts.
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

  it('cancels an upload: the server drops its bytes, nothing appears', async () => {
    const local = join(scratch, 'cancelled.bin');
    await writeFile(local, randomBytes(16 * MB));
    const before = (await harness.store.quota.usage('alice')).bytesUsed;
    await page.route('**/portal/api/files/upload/*?offset=*', async (route) => {
      await new Promise((r) => setTimeout(r, 500));
      await route.continue().catch(() => {});
    });
    await page.setInputFiles('#files-picker', local);
    const item = page.locator('.files-uploads li', { hasText: 'cancelled.bin' });
    await item.getByRole('button', { name: 'Cancel' }).click();
    await item.getByText('cancelled').waitFor();
    await page.unroute('**/portal/api/files/upload/*?offset=*');
    await expect.poll(async () => readdir(join(harness.home('alice'), '.wharf-portal-uploads'))).toEqual([]);
    expect(await readdir(harness.home('alice'))).not.toContain('cancelled.bin');
    expect((await harness.store.quota.usage('alice')).bytesUsed).toBe(before);
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
