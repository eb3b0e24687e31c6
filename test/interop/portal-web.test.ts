/**
 * The portal's shell, home and admin pages in Chromium (issue #19): signing in through the form,
 * signing out, creating an account, an admin adding and locking an account, Chinese for a
 * Chinese browser, no sideways scrolling at a phone's width, and names that look like markup
 * shown as text.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { portalAssetPath } from '../../src/core/portal.js';
import { echoService } from '../../src/services/echo/server.js';
import { browserMissing, launchBrowser, newPage } from '../helpers/browser.js';
import { pageReady, signIn, signOut, startPortal, waitForShell, type StartedPortal } from '../helpers/portal.js';

/** Account names that would be markup if a page ever put a name in as HTML (names hold no spaces or slashes). */
const MARKUP_NAME = '<b>mallory<i>';
const MARKUP_USER = '<img>eve<svg>';

/** Does the page scroll sideways? */
function scrollsSideways(page: Page): Promise<boolean> {
  return page.evaluate('document.documentElement.scrollWidth > document.documentElement.clientWidth');
}

const ready = pageReady;

describe.skipIf(browserMissing !== undefined)(`the portal's shell in Chromium${browserMissing === undefined ? '' : ` (skipped: ${browserMissing})`}`, () => {
  let portal: StartedPortal;
  let browser: Browser;
  const dialogs: string[] = [];

  const person = (options: { locale?: string; phone?: boolean } = {}): Promise<Page> => newPage(browser, dialogs, options);

  beforeAll(async () => {
    portal = await startPortal({
      services: [{ definition: echoService }],
      accounts: [
        { name: 'alice', password: 'secret' },
        { name: 'boss', password: 'bosspw', admin: true },
        { name: MARKUP_USER, password: 'evepw' },
      ],
    });
    // A section with a WebSocket (a real handshake), to check that the CSP lets the page open it.
    portal.host.portal.add({
      id: 'probe',
      title: { en: 'Probe', zh: '探针' },
      order: 50,
      needsAccount: false,
      script: portalAssetPath('shell.js'),
      upgrade(req, socket) {
        const accept = createHash('sha1').update(`${String(req.headers['sec-websocket-key'])}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');
        socket.write(`HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ${accept}\r\n\r\n`);
        socket.on('error', () => socket.destroy());
        setTimeout(() => socket.destroy(), 2_000).unref();
      },
    });
    browser = await launchBrowser();
  });

  afterAll(async () => {
    await browser?.close();
    await portal?.stop();
  });

  it('signs in through the form and out with the header\'s button', async () => {
    const page = await person();
    await page.goto(portal.url);
    await expect.poll(() => page.locator('html').getAttribute('data-ready')).toBe('/');
    await signIn(page, portal, 'alice', 'secret');
    await expect.poll(() => page.locator('header').textContent()).toContain('alice');
    await signOut(page);
    await expect.poll(() => page.locator('header').textContent()).toContain('Sign in');
    await page.context().close();
  });

  it('creates an account from the sign-in form', async () => {
    const page = await person();
    await page.goto(`${portal.url}/signin`);
    await page.locator('#signin-toggle').click();
    await expect.poll(() => page.locator('#signin-title').textContent()).toBe('Create an account');
    await page.locator('#signin-name').fill('newbie');
    await page.locator('#signin-password').fill('newbiepw');
    await page.locator('#signin-submit').click();
    await expect.poll(() => page.locator('html').getAttribute('data-user')).toBe('newbie');
    expect((await portal.store.accounts.get('newbie'))?.role).toBe('user');
    await page.context().close();
  });

  it('lets an admin add an account and lock it, names that look like markup stay text, and the locked account cannot sign in', async () => {
    const page = await person();
    await signIn(page, portal, 'boss', 'bosspw');
    await page.locator('header nav').getByRole('link', { name: 'Admin', exact: true }).click();
    await ready(page, '/admin');
    await page.locator('#add-name').fill(MARKUP_NAME);
    await page.locator('#add-password').fill('mallorypw');
    await page.locator('#add-quota').fill('5M');
    await page.locator('#add-submit').click();
    const row = page.locator('tbody tr', { hasText: MARKUP_NAME });
    await expect.poll(() => row.count()).toBe(1);
    await expect.poll(() => row.locator('td').nth(3).textContent()).toContain('5.2 MB');
    await row.getByRole('button', { name: `Lock ${MARKUP_NAME}` }).click();
    await expect.poll(() => row.locator('.tag').textContent()).toBe('locked');
    expect((await portal.store.accounts.get(MARKUP_NAME))?.disabled).toBe(true);
    // Shown as text: no element came out of a name.
    expect(await page.locator('tbody b, tbody i, tbody img, tbody svg').count()).toBe(0);
    expect(await page.locator('tbody').textContent()).toContain(MARKUP_USER);
    // The server's refusal, shown as it says it (the page's bundle recognises the shell's errors).
    await page.locator('#add-name').fill('alice');
    await page.locator('#add-password').fill('whatever');
    await page.locator('#add-submit').click();
    await expect.poll(() => page.locator('form[aria-labelledby="add-title"] .error').textContent()).toBe('the account name "alice" is taken');
    const locked = await person();
    await locked.goto(`${portal.url}/signin`);
    await locked.locator('#signin-name').fill(MARKUP_NAME);
    await locked.locator('#signin-password').fill('mallorypw');
    await locked.locator('#signin-submit').click();
    await expect.poll(() => locked.locator('#signin-error').textContent()).toContain('locked');
    await locked.context().close();
    await page.context().close();
  });

  it('shows a signed-in name that looks like markup as text on the home page and in the header, and the client commands to copy', async () => {
    const page = await person();
    await page.context().grantPermissions(['clipboard-read', 'clipboard-write'], { origin: portal.url });
    await signIn(page, portal, MARKUP_USER, 'evepw');
    await ready(page, '/');
    expect(await page.locator('h1 + p').textContent()).toBe(`Welcome, ${MARKUP_USER}.`);
    expect(await page.locator('header strong').textContent()).toBe(MARKUP_USER);
    expect(await page.locator('main img, main svg, header img, header svg').count()).toBe(0);
    const echoPort = portal.services.get('echo')!.addresses[0]!.port;
    const command = `echo hi | nc -N 127.0.0.1 ${echoPort}`;
    const item = page.locator('.commands li', { hasText: command });
    await expect.poll(() => item.count()).toBe(1);
    await item.getByRole('button').click();
    await expect.poll(() => page.locator('.status').textContent()).toBe('Copied.');
    expect(await page.evaluate('navigator.clipboard.readText()')).toBe(command);
    expect(dialogs).toEqual([]);
    await page.context().close();
  });

  it('speaks Chinese to a browser that prefers it', async () => {
    const page = await person({ locale: 'zh-CN' });
    await page.goto(portal.url);
    await ready(page, '/');
    expect(await page.locator('html').getAttribute('lang')).toBe('zh-CN');
    expect(await page.locator('h1').textContent()).toBe('这台机器上的 wharf');
    expect(await page.locator('header nav').textContent()).toContain('首页');
    await page.locator('header a.button').click();
    await ready(page, '/signin');
    expect(await page.locator('label[for="signin-password"]').textContent()).toBe('密码');
    await page.context().close();
  });

  it('fits a phone\'s width: no sideways scrolling on the home, sign-in and admin pages', async () => {
    const page = await person({ phone: true });
    await page.goto(`${portal.url}/signin`);
    await ready(page, '/signin');
    expect(await scrollsSideways(page)).toBe(false);
    await signIn(page, portal, 'boss', 'bosspw');
    await ready(page, '/');
    expect(await scrollsSideways(page)).toBe(false);
    await page.goto(`${portal.url}/admin`);
    await ready(page, '/admin');
    expect(await scrollsSideways(page)).toBe(false);
    await page.context().close();
  });

  it('keeps the back button working across pages, and its CSP lets a page open a same-origin WebSocket', async () => {
    const page = await person();
    const violations: string[] = [];
    page.on('console', (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    await page.goto(portal.url);
    await ready(page, '/');
    await page.locator('header a.button').click();
    await ready(page, '/signin');
    await page.goBack();
    await ready(page, '/');
    expect(new URL(page.url()).pathname).toBe('/');
    const opened = await page.evaluate(`new Promise((resolve) => {
      const socket = new WebSocket('ws://' + location.host + '/portal/api/probe/socket');
      socket.onopen = () => resolve('open');
      socket.onerror = () => resolve('error');
    })`);
    expect(opened).toBe('open');
    expect(violations).toEqual([]);
    await page.context().close();
  });

  it('shows a session that ended meanwhile (the account locked) as signed out at the next page', async () => {
    const page = await person();
    await signIn(page, portal, 'alice', 'secret');
    await portal.store.accounts.setDisabled('alice', true);
    try {
      await page.locator('header nav').getByRole('link', { name: 'Home' }).click();
      await waitForShell(page, 'data-user', null);
      expect(await page.locator('header').textContent()).toContain('Sign in');
    } finally {
      await portal.store.accounts.setDisabled('alice', false);
      await page.context().close();
    }
  });
});
