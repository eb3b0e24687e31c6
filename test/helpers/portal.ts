/**
 * The whole portal for a test (issue #19): a ServiceHost with a store opened in a fresh data
 * folder (as `wharf serve` builds it), the given services, and the web service with its portal
 * on, every one on 127.0.0.1 and port 0. Each service's ports that default to fixed numbers
 * (`port`, `tcpPort`, `seedPort`, …) are set to 0 unless the test gives them; an FTP server's
 * passive range is the test's to give (test/services/ftp/support.ts's `freePortRange`).
 *
 *   const portal = await startPortal({ services: [{ definition: chatService }], accounts: [{ name: 'alice', password: 'secret' }] });
 *   await page.goto(portal.url); await signIn(page, portal, 'alice', 'secret');
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { ServiceHost } from '../../src/core/host.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import type { RunningService, ServiceDefinition } from '../../src/core/service.js';
import { webConfigSchema, webService, type WebConfigInput } from '../../src/services/web/server.js';
import { openStore, type AccountsOptions, type Store } from '../../src/store/index.js';

export interface PortalAccount {
  name: string;
  password: string;
  admin?: boolean;
  /** Bytes. */
  quota?: number;
}

export interface StartPortalOptions {
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- each service's own config type
  services?: Array<{ definition: ServiceDefinition<any>; config?: Record<string, unknown> }>;
  accounts?: PortalAccount[];
  /** The web service's settings beyond port 0 and the portal on. */
  web?: Partial<WebConfigInput>;
  /** The store's accounts settings; the login throttle waits no time unless a test asks. */
  store?: AccountsOptions;
  logger?: Logger;
}

export interface StartedPortal {
  /** `http://127.0.0.1:PORT` (no trailing slash). */
  readonly url: string;
  readonly host: ServiceHost;
  readonly store: Store;
  readonly dataDir: string;
  /** The running services by name (`web` included). */
  readonly services: ReadonlyMap<string, RunningService>;
  stop(): Promise<void>;
}

/** Fast login throttling in tests: no second-long delays unless a test asks for them. */
export const FAST_THROTTLE = { baseDelayMs: 0, maxDelayMs: 0 };

/** A service's config with every fixed default port replaced by 0 (unless given), on 127.0.0.1. */
function onFreePorts(definition: ServiceDefinition<unknown>, given: Record<string, unknown>): unknown {
  const defaults = definition.configSchema.safeParse({});
  const ports: Record<string, number> = {};
  if (defaults.success && typeof defaults.data === 'object' && defaults.data !== null) {
    for (const [key, value] of Object.entries(defaults.data)) if (/^port$|Port$/.test(key) && typeof value === 'number' && value !== 0) ports[key] = 0;
  }
  return definition.configSchema.parse({ host: '127.0.0.1', ...ports, ...given });
}

export async function startPortal(options: StartPortalOptions = {}): Promise<StartedPortal> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-portal-'));
  const logger = options.logger ?? silentLogger();
  const store = await openStore({ dataDir, logger, accounts: { ...options.store, throttle: { ...FAST_THROTTLE, ...options.store?.throttle } } });
  const host = new ServiceHost({ logger, dataDir, resources: { store } });
  const services = new Map<string, RunningService>();
  try {
    for (const account of options.accounts ?? []) {
      await store.accounts.add(account.name, account.password, { role: account.admin === true ? 'admin' : 'user', ...(account.quota === undefined ? {} : { quota: account.quota }) });
    }
    for (const { definition, config } of options.services ?? []) {
      services.set(definition.name, await host.start(definition, onFreePorts(definition, config ?? {})));
    }
    const web = await host.start(webService, webConfigSchema.parse({ host: '127.0.0.1', port: 0, accessLog: 'off', portal: true, ...options.web }));
    services.set('web', web);
    const address = web.addresses[0]!;
    return {
      url: `${web.scheme ?? 'http'}://127.0.0.1:${address.port}`,
      host,
      store,
      dataDir,
      services,
      async stop() {
        await host.stop(500);
        await store.close();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await host.stop(0);
    await store.close();
    await rm(dataDir, { recursive: true, force: true });
    throw error;
  }
}

/**
 * Wait until the shell's mark `name` on <html> (`data-user`: who is signed in; `data-ready`: the
 * path of the page mounted last) is `expected` (null: absent). Read through a locator: the
 * portal's CSP refuses the eval that a string given to waitForFunction needs.
 */
export async function waitForShell(page: Page, name: 'data-user' | 'data-ready', expected: string | null, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let value = await page.locator('html').getAttribute(name);
  while (value !== expected) {
    if (Date.now() > deadline) throw new Error(`the portal's ${name} is ${JSON.stringify(value)}, not ${JSON.stringify(expected)}, after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
    value = await page.locator('html').getAttribute(name);
  }
}

/** Wait until the shell has mounted the page at `path` (`/`, `/admin`). */
export function pageReady(page: Page, path: string): Promise<void> {
  return waitForShell(page, 'data-ready', path);
}

/**
 * Sign in as a person does: open the sign-in page, type the name and the password into the
 * form, press the button; resolves once the portal shows the account signed in.
 */
export async function signIn(page: Page, portal: Pick<StartedPortal, 'url'>, name: string, password: string): Promise<void> {
  await page.goto(`${portal.url}/signin`);
  await page.locator('#signin-name').fill(name);
  await page.locator('#signin-password').fill(password);
  await page.locator('#signin-submit').click();
  await waitForShell(page, 'data-user', name);
}

/** Sign out with the header's button; resolves once the portal shows a visitor. */
export async function signOut(page: Page): Promise<void> {
  await page.locator('#sign-out').click();
  await waitForShell(page, 'data-user', null);
}
