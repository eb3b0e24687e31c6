/**
 * The portal's dictionary page in Chromium (issue #19): suggestions as you type, chosen with the
 * keyboard; definitions; a cross-reference followed and the back button; a signed-in person's
 * lookups in the page's history and in `wharf dict`'s (the same store); markup in a definition
 * and in a query shown as text; a phone's width in Chinese.
 *
 * PORTAL_SCREENSHOTS=DIR saves the pages' screenshots there (docs/portal.md).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { dictService } from '../../src/services/dict/server.js';
import { browserMissing, launchBrowser, newPage } from '../helpers/browser.js';
import { runWharf } from '../helpers/cli.js';
import { signIn, startPortal, type StartedPortal } from '../helpers/portal.js';

const SHOTS = process.env.PORTAL_SCREENSHOTS;

/** A seed-format dictionary with Chinese and with markup in a definition. */
function seedDictionary(): string {
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'wharf-portal-dict-')), 'words.txt');
  writeFileSync(
    file,
    ['你好             hello (Mandarin greeting); see also {再见}', '再见             goodbye', 'payload          <script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">', ''].join('\n'),
  );
  return file;
}

describe.skipIf(browserMissing !== undefined)(`the portal's dictionary in Chromium${browserMissing === undefined ? '' : ` (skipped: ${browserMissing})`}`, () => {
  let portal: StartedPortal;
  let browser: Browser;
  const dialogs: string[] = [];

  const person = (options: { locale?: string; phone?: boolean } = {}): Promise<Page> => newPage(browser, dialogs, options);

  /** Wait until the page shows the definitions of `word` (the shell marks a page ready once mounted). */
  async function definitionsOf(page: Page, word: string): Promise<void> {
    // Locators, not waitForFunction('…'): the portal's CSP forbids eval, which a string predicate needs.
    await page.locator('#dict-results h3').getByText(word, { exact: true }).first().waitFor();
    await page.locator('html[data-ready="/dict"]').waitFor({ state: 'attached' });
  }

  beforeAll(async () => {
    portal = await startPortal({
      services: [{ definition: dictService, config: { databases: [{ name: 'seed', path: seedDictionary() }] } }],
      accounts: [{ name: 'alice', password: 'alice-secret' }],
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await portal?.stop();
  });

  it('suggests as you type, chosen with the arrow keys and Enter; a cross-reference looks its word up; Back returns', async () => {
    const page = await person();
    await page.goto(`${portal.url}/dict`);
    await expect.poll(() => page.locator('html').getAttribute('data-ready')).toBe('/dict');
    const box = page.getByRole('combobox', { name: 'Word' });
    await box.pressSequentially('hell', { delay: 30 });
    const options = page.locator('#dict-options [role=option]');
    // The suggestions for "hell" (on a slow machine those for "hel" may come first, then be replaced).
    await expect.poll(async () => (await options.allTextContents()).filter((text) => text.startsWith('hell')).length).toBeGreaterThan(2);
    await expect.poll(async () => (await options.allTextContents()).every((text) => text.startsWith('hell'))).toBe(true);
    expect(await box.getAttribute('aria-expanded')).toBe('true');
    await box.press('ArrowDown');
    await box.press('ArrowDown');
    const chosen = (await page.locator('#dict-options [aria-selected=true] span').first().textContent())!;
    expect(await box.getAttribute('aria-activedescendant')).toBe('dict-option-1');
    await box.press('Enter');
    await definitionsOf(page, chosen);
    expect(new URL(page.url()).search).toBe(`?q=${encodeURIComponent(chosen)}`);
    // Escape closes the list and keeps what was typed.
    await box.fill('');
    await box.pressSequentially('hello', { delay: 20 });
    await expect.poll(() => box.getAttribute('aria-expanded')).toBe('true');
    await box.press('Escape');
    expect([await box.getAttribute('aria-expanded'), await box.inputValue()]).toEqual(['false', 'hello']);
    await box.press('Enter');
    await definitionsOf(page, 'hello');
    expect(await page.locator('#dict-results h2').first().textContent()).toContain('WordNet');
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'dict-desktop.png'), fullPage: true });

    await page.getByRole('link', { name: 'how-do-you-do' }).click();
    await definitionsOf(page, 'how-do-you-do');
    expect(new URL(page.url()).search).toBe('?q=how-do-you-do');
    await page.goBack();
    await definitionsOf(page, 'hello');
    expect(new URL(page.url()).search).toBe('?q=hello');
    // A visitor keeps no history; the page says how to keep one.
    expect(await page.locator('.dict-history').textContent()).toContain('Sign in');
    await page.context().close();
  });

  it("keeps a signed-in person's lookups: in the page's history, and in wharf dict's, which reads the same store", async () => {
    const page = await person();
    await signIn(page, portal, 'alice', 'alice-secret');
    await page.goto(`${portal.url}/dict?q=tree`);
    await definitionsOf(page, 'tree');
    const box = page.getByRole('combobox', { name: 'Word' });
    await box.fill('你好');
    await box.press('Enter');
    await definitionsOf(page, '你好');
    // The Chinese entry's own cross-reference.
    await page.getByRole('link', { name: '再见' }).click();
    await definitionsOf(page, '再见');
    const history = page.locator('#dict-history-list a');
    await expect.poll(() => history.allTextContents()).toEqual(['再见', '你好', 'tree']);
    // Clicking a word of the history looks it up again.
    await history.nth(2).click();
    await definitionsOf(page, 'tree');
    await expect.poll(() => history.allTextContents()).toEqual(['tree', '再见', '你好', 'tree']);

    const dictPort = portal.services.get('dict')!.addresses[0]!.port;
    const cli = await runWharf(['dict', '-p', String(dictPort)], { input: '2\nalice\nalice-secret\n2\n3\n3\n', timeoutMs: 15_000 });
    expect(cli.code, cli.stderr).toBe(0);
    // `alice    WORD   TIME` lines, the first after the menu's prompt.
    const words = [...cli.stdout.matchAll(/alice {4}(.+?) {3}\d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ/g)].map((row) => row[1]);
    expect(words).toEqual(['tree', '再见', '你好', 'tree']);
    await page.context().close();
  });

  it('shows markup in a definition and in a query as text, never as HTML', async () => {
    const page = await person();
    await page.goto(`${portal.url}/dict?q=payload`);
    await definitionsOf(page, 'payload');
    // Each line of the database is a line of the page (innerText), wrapped where the database wrapped it.
    expect((await page.locator('[data-database=seed] .dict-text').innerText()).replace(/\s+/g, ' ')).toContain('<script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">');
    const box = page.getByRole('combobox', { name: 'Word' });
    await box.fill('<script>window.__pwned = 3</script>');
    await box.press('Enter');
    await page.waitForSelector('.dict-none');
    expect(await page.locator('.dict-none').textContent()).toBe('No definitions for “<script>window.__pwned = 3</script>”.');
    expect(await page.locator('main script, main img').count()).toBe(0);
    expect(await page.evaluate('window.__pwned')).toBeUndefined();
    expect(dialogs).toEqual([]);
    await page.context().close();
  });

  it('fits a phone in Chinese: no sideways scrolling, the texts in Chinese', async () => {
    const page = await person({ locale: 'zh-CN', phone: true });
    await page.goto(`${portal.url}/dict?q=good`);
    await definitionsOf(page, 'good');
    expect(await page.locator('main h1').textContent()).toBe('词典');
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    const box = page.getByRole('combobox', { name: '词语' });
    await box.fill('你');
    await expect.poll(() => page.locator('#dict-options [role=option]').allTextContents()).toEqual(['你好seed']);
    if (SHOTS) await page.screenshot({ path: path.join(SHOTS, 'dict-phone.png') });
    await page.context().close();
  });
});
