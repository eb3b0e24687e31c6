/**
 * The portal's shell, home and admin pages in Chromium (issue #19): signing in through the form,
 * signing out, creating an account, an admin adding and locking an account, Chinese for a
 * Chinese browser, no sideways scrolling at a phone's width, and names that look like markup
 * shown as text.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Browser, Page } from 'playwright-core';
import { browserMissing, launchBrowser, newPerson } from '../helpers/browser.js';
import { signIn, signOut, startPortal, type StartedPortal } from '../helpers/portal.js';

describe.skipIf(browserMissing !== undefined)(`the portal's shell in Chromium${browserMissing === undefined ? '' : ` (skipped: ${browserMissing})`}`, () => {
  let portal: StartedPortal;
  let browser: Browser;
  const dialogs: string[] = [];

  async function person(options: { locale?: string; phone?: boolean } = {}): Promise<Page> {
    const context = await newPerson(browser, options);
    const page = await context.newPage();
    page.on('dialog', (dialog) => {
      dialogs.push(dialog.message());
      void dialog.dismiss();
    });
    return page;
  }

  beforeAll(async () => {
    portal = await startPortal({
      accounts: [
        { name: 'alice', password: 'secret' },
        { name: 'boss', password: 'bosspw', admin: true },
      ],
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
});
