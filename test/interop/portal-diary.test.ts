/**
 * The diary in the browser portal, end to end (issue #19, item 5): Chromium signed in through
 * the real portal writes an entry that `wharf diary read` (the built command, over UDP to the
 * test's server) and `wharf diary export` (from the test's data folder) print byte for byte; an
 * entry a seed client sends over UDP, and one `wharf diary write` sends, appear in the open page
 * without a reload; markup in entries stays text.
 */
import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { diaryService } from '../../src/services/diary/server.js';
import { browserMissing, launchBrowser, newPage } from '../helpers/browser.js';
import { runWharf } from '../helpers/cli.js';
import { signIn, startPortal, type StartedPortal } from '../helpers/portal.js';

const PASSWORD = 'alice-password';

describe.skipIf(browserMissing !== undefined)(`the diary in the portal, in Chromium${browserMissing === undefined ? '' : ` (skipped: ${browserMissing})`}`, () => {
  let portal: StartedPortal;
  let browser: Browser;
  let diaryPort: number;
  const dialogs: string[] = [];

  const person = (options: { locale?: string; phone?: boolean } = {}): Promise<Page> => newPage(browser, dialogs, options);

  /** A seed client: one datagram of text, the stamped line back. */
  async function seedWrite(text: string): Promise<string> {
    const socket = dgram.createSocket('udp4');
    try {
      const answer = once(socket, 'message', { signal: AbortSignal.timeout(5_000) });
      socket.send(text, diaryPort, '127.0.0.1');
      const [message] = (await answer) as [Buffer];
      return message.toString();
    } finally {
      socket.close();
    }
  }

  const texts = (page: Page) => page.locator('.diary-entry .diary-text').allTextContents();

  beforeAll(async () => {
    portal = await startPortal({ services: [{ definition: diaryService, config: { timeZone: 'UTC', portalWriteBurst: 1, portalWritesPerSecond: 0.01 } }], accounts: [{ name: 'alice', password: PASSWORD }] });
    diaryPort = portal.services.get('diary')!.addresses[0]!.port;
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await portal?.stop();
  });

  it('writes an entry in the page that wharf diary read and export print identically', async () => {
    const page = await person();
    await signIn(page, portal, 'alice', PASSWORD);
    await page.goto(`${portal.url}/diary`);
    await expect.poll(() => page.getByRole('button', { name: 'My diary' }).getAttribute('aria-pressed')).toBe('true');
    const text = '今天天气很好，去了长城 🏯🎉\n第二行：emoji 👩‍💻 and 中文';
    await page.getByLabel('New entry').fill(text);
    await page.getByLabel('New entry').press('Control+Enter');
    await expect.poll(() => texts(page)).toEqual([text]);
    // A refusal shows the server's own sentence (one write per account at once here).
    await page.getByLabel('New entry').fill('one too many');
    await page.getByRole('button', { name: 'Write' }).click();
    await expect.poll(() => page.locator('.diary-problem').textContent()).toBe('too many entries in a short time; wait a few seconds');
    expect(await page.getByLabel('New entry').inputValue()).toBe('one too many');

    const env = { WHARF_PASSWORD: PASSWORD };
    const read = await runWharf(['diary', 'read', '-p', String(diaryPort), '-u', 'alice', '--json'], { env });
    expect(read.stderr).toBe('');
    expect(read.code).toBe(0);
    const entries = JSON.parse(read.stdout) as Array<{ text: string; by?: string }>;
    expect(entries).toEqual([expect.objectContaining({ text, by: 'alice' })]);
    const plain = await runWharf(['diary', 'read', '-p', String(diaryPort), '-u', 'alice'], { env: { ...env, TZ: 'UTC' } });
    expect(plain.stdout).toMatch(/^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] /);
    expect(plain.stdout.replace(/^\[[^\]]+\] /, '')).toBe(`${text}\n`);
    const exported = await runWharf(['diary', 'export', '--data', portal.dataDir, '--account', 'alice', '--tz', 'UTC']);
    expect(exported.code).toBe(0);
    expect(exported.stdout).toBe(plain.stdout);
    // Alice's own diary is not the public one.
    const open = await runWharf(['diary', 'read', '-p', String(diaryPort), '--json']);
    expect(JSON.parse(open.stdout)).toEqual([]);
    await page.context().close();
  });

  it('shows entries from a seed client over UDP and from wharf diary write live, markup as text', async () => {
    const page = await person({ phone: true });
    await page.goto(`${portal.url}/diary`);
    // A visitor reads (and may write) the public diary.
    await expect.poll(() => page.getByRole('button', { name: 'Public diary' }).getAttribute('aria-pressed')).toBe('true');
    await expect(page.getByRole('button', { name: 'My diary' }).count()).resolves.toBe(0);
    // The live stream is open once the page is drawn; give it its first heartbeat-free moment.
    await expect.poll(() => page.locator('.diary-live').textContent()).toBe('No entries yet.');

    const hostile = ['<script>alert("script")</script>', '<img src=x onerror="alert(\'img\')">'];
    for (const text of hostile) expect(await seedWrite(text)).toContain(text);
    await expect.poll(() => texts(page)).toEqual([...hostile].reverse());
    const written = await runWharf(['diary', 'write', '-p', String(diaryPort), '来自', 'wharf', '的日记 🚢']);
    expect(written.code).toBe(0);
    await expect.poll(() => texts(page)).toEqual(['来自 wharf 的日记 🚢', ...[...hostile].reverse()]);
    await expect.poll(() => page.locator('.diary-live').textContent()).toBe('New entry: 来自 wharf 的日记 🚢');

    // The visitor writes in the page too (the seed lets anyone write the public diary).
    await page.getByLabel('New entry').fill('<b>visitor</b> & friends');
    await page.getByRole('button', { name: 'Write' }).click();
    await expect.poll(async () => (await texts(page))[0]).toBe('<b>visitor</b> & friends');
    expect(await page.locator('.diary-entries img, .diary-entries script, .diary-entries b').count()).toBe(0);
    // Four entries: nothing older to load (the portal's button style must not undo hiding it).
    expect(await page.getByRole('button', { name: 'Load older' }).isHidden()).toBe(true);
    expect(await page.evaluate('document.documentElement.scrollWidth')).toBeLessThanOrEqual(390);
    expect(dialogs).toEqual([]);
    const seedRead = await seedWrite('-r');
    expect(seedRead).toContain('<b>visitor</b> & friends');
    await page.context().close();
  });
});
