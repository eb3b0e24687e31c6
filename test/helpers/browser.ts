/**
 * Headless Chromium for the portal's tests: Debian's `chromium` package driven by playwright-core
 * (never a downloaded browser), with the flags this machine's closed network needs, a fresh
 * profile each launch. Without Chromium a suite skips with the reason; under CI=true it fails.
 */
import { existsSync } from 'node:fs';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

export const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((path) => existsSync(path));

/** Why the browser tests cannot run here, or undefined when they can. */
export const browserMissing: string | undefined = CHROMIUM === undefined ? "Debian's chromium is not installed (apt-get install chromium)" : undefined;
if (browserMissing !== undefined && process.env.CI === 'true') throw new Error(`${browserMissing}, but CI must provide it (.ci/run)`);

export const DESKTOP = { width: 1280, height: 800 };
/** A phone's width (an iPhone 14's CSS pixels). */
export const PHONE = { width: 390, height: 844 };

export async function launchBrowser(): Promise<Browser> {
  if (CHROMIUM === undefined) throw new Error(browserMissing);
  // launch() gives every browser a new empty profile (its own --user-data-dir), removed on close.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}

/** A browser context (cookies of its own) for one person, English unless `locale` says otherwise. */
export function newPerson(browser: Browser, options: { locale?: string; phone?: boolean } = {}): Promise<BrowserContext> {
  return browser.newContext({ locale: options.locale ?? 'en-US', viewport: options.phone === true ? PHONE : DESKTOP, ...(options.phone === true ? { isMobile: true, hasTouch: true } : {}) });
}

/**
 * A page for one person (a context of its own, see `newPerson`) whose dialogs (`alert`, `confirm`)
 * are dismissed and recorded in `dialogs`: a script injected through a name or a message that ran
 * would show there, so the security tests expect it to stay empty.
 */
export async function newPage(browser: Browser, dialogs: string[], options: { locale?: string; phone?: boolean } = {}): Promise<Page> {
  const page = await (await newPerson(browser, options)).newPage();
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message());
    void dialog.dismiss();
  });
  return page;
}
