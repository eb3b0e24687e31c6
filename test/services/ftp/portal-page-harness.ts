/**
 * The files page in a real browser before the web portal exists: a small HTTP server that serves
 * the page module (bundled from the sources with esbuild, with portal-kit's real PortalApi) in
 * an empty page, and hands `/portal/api/files/*` to the section a real FTP server added to its
 * portal registry, as the account `user`. The FTP server, the section and the store are the ones
 * `wharf serve` runs; only the web portal's shell (sign-in, CSRF) is left out, and its own tests
 * check those.
 */
import http from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';
import { silentLogger } from '../../../src/core/logger.js';
import { PortalRegistry, type PortalUser } from '../../../src/core/portal.js';
import { serviceContext } from '../../../src/core/service.js';
import { ftpConfigSchema, startFtp, type FtpRunningService } from '../../../src/services/ftp/server.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { freePortRange } from './support.js';

export interface FilesPageHarness {
  /** The page: `http://127.0.0.1:PORT/files`. */
  url: string;
  ftp: FtpRunningService;
  store: Store;
  home(name: string): string;
  user: PortalUser;
  stop(): Promise<void>;
}

const root = resolve(import.meta.dirname, '../../..');

async function bundleHarness(): Promise<string> {
  const contents = `
    import { PortalApi, translator } from ${JSON.stringify(join(root, 'src/portal-kit/index.ts'))};
    import page from ${JSON.stringify(join(root, 'src/services/ftp/portal/browser/page.ts'))};
    const lang = navigator.language.toLowerCase().startsWith('zh') ? 'zh' : 'en';
    const announced = document.getElementById('announce');
    const user = JSON.parse(document.body.dataset.user);
    await page.mount(document.getElementById('root'), {
      user, lang, t: translator(lang), api: new PortalApi('/portal/api/files', 'harness'),
      signal: new AbortController().signal, announce: (text) => { announced.textContent = text; }, navigate: (path) => { location.href = path; },
    });
    document.body.dataset.ready = '1';`;
  const result = await build({ stdin: { contents, resolveDir: root, loader: 'ts' }, bundle: true, format: 'esm', write: false, logLevel: 'silent', target: 'chrome100' });
  return result.outputFiles[0]?.text ?? '';
}

export async function startFilesPageHarness(accounts: Array<{ name: string; quota?: number }>): Promise<FilesPageHarness> {
  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-files-page-'));
  const store = await openStore({ dataDir, accounts: { throttle: { baseDelayMs: 0, maxDelayMs: 0 } } });
  for (const account of accounts) await store.accounts.add(account.name, 'secret', account.quota !== undefined ? { quota: account.quota } : {});
  const portal = new PortalRegistry();
  const ftp = await startFtp(serviceContext({ name: 'ftp', logger: silentLogger(), dataDir, resources: { store }, portal }), ftpConfigSchema.parse({ port: 0, passivePorts: await freePortRange(20) }));
  const section = portal.get('files');
  if (section?.handle === undefined) throw new Error('the ftp service added no files section');
  const script = await bundleHarness();
  const state = { user: { name: accounts[0]?.name ?? 'alice', admin: false } as PortalUser, origin: '' };
  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? '/', state.origin);
    if (url.pathname.startsWith('/portal/api/files/')) {
      const path = url.pathname.slice('/portal/api/files'.length);
      void section.handle?.(req, res, { user: state.user, path, query: url.searchParams, peer: '127.0.0.1', origin: state.origin, secure: false });
    } else if (url.pathname === '/harness.js') {
      res.writeHead(200, { 'Content-Type': 'text/javascript; charset=utf-8' }).end(script);
    } else if (url.pathname === '/files') {
      const user = JSON.stringify(state.user).replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
      res
        .writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Content-Security-Policy': "default-src 'self'" })
        .end(`<!doctype html><html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>files</title></head><body data-user="${user}"><main id="root"></main><p id="announce" aria-live="polite"></p><script type="module" src="/harness.js"></script></body></html>`);
    } else res.writeHead(404).end();
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  state.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url: `${state.origin}/files`,
    ftp,
    store,
    home: (name) => join(ftp.root, 'users', name),
    get user() {
      return state.user;
    },
    set user(next) {
      state.user = next;
    },
    async stop() {
      server.closeAllConnections();
      await new Promise((done) => server.close(done));
      await ftp.stop(200);
      await store.close();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}
