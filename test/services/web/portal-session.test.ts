/**
 * The portal's dispatcher, sessions and CSRF over real HTTP (issue #19): the shell and its
 * headers, the built files precompressed, sign-in and its cookie's flags, the login throttle,
 * sign-out, creating an account, sessions ending when their account is locked, removed or
 * given a new password, and every state-changing request refused without the same origin and
 * the CSRF token (with nothing done).
 */
import http2 from 'node:http2';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPortal, type StartedPortal } from '../../helpers/portal.js';
import { FIXTURES } from './support.js';
import { PortalClient, rawRequest } from './portal-support.js';

let portal: StartedPortal;

beforeAll(async () => {
  portal = await startPortal({
    accounts: [
      { name: 'alice', password: 'secret' },
      { name: 'boss', password: 'bosspw', admin: true },
      { name: 'bob', password: 'bobpw' },
    ],
    store: { registrationsPerIpPerHour: 50, throttle: { maxFailuresPerName: 3, lockoutMs: 60_000 } },
  });
});

afterAll(async () => {
  await portal?.stop();
});

describe('the shell and its files', () => {
  it('serves the shell page at /, a section and /signin, with a strict CSP, nosniff and no referrer', async () => {
    for (const path of ['/', '/admin', '/signin', '/admin/anything?x=1']) {
      const page = await rawRequest(portal.url, 'GET', path, { 'Accept-Language': 'zh-CN,zh;q=0.9' });
      expect(page.status, path).toBe(200);
      expect(page.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(page.headers['content-security-policy']).toBe("default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'");
      expect(page.headers['x-content-type-options']).toBe('nosniff');
      expect(page.headers['referrer-policy']).toBe('no-referrer');
      expect(page.headers['cache-control']).toBe('no-cache');
      expect(page.text).toContain('<html lang="zh-CN">');
      expect(page.text).toContain('<link rel="stylesheet" href="/portal/portal.css">');
      expect(page.text).toContain('<script type="module" src="/portal/shell.js"></script>');
      expect(page.text).toContain('<noscript>');
    }
    expect((await rawRequest(portal.url, 'GET', '/', {})).text).toContain('<html lang="en">');
  });

  it('serves shell.js and portal.css precompressed with an ETag, and 304 for a current copy', async () => {
    const br = await rawRequest(portal.url, 'GET', '/portal/shell.js', { 'Accept-Encoding': 'gzip, br' });
    expect(br.status).toBe(200);
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(br.headers['x-content-type-options']).toBe('nosniff');
    expect(br.headers.vary).toContain('Accept-Encoding');
    const gzip = await rawRequest(portal.url, 'GET', '/portal/portal.css', { 'Accept-Encoding': 'gzip' });
    expect(gzip.headers['content-encoding']).toBe('gzip');
    const plain = await rawRequest(portal.url, 'GET', '/portal/portal.css', {});
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.text).toContain('prefers-color-scheme');
    const again = await rawRequest(portal.url, 'GET', '/portal/shell.js', { 'If-None-Match': String(br.headers.etag) });
    expect(again.status).toBe(304);
    expect((await rawRequest(portal.url, 'GET', '/portal/pages/admin.js', {})).status).toBe(200);
    expect((await rawRequest(portal.url, 'GET', '/portal/pages/nosuch.js', {})).status).toBe(404);
    expect((await rawRequest(portal.url, 'GET', '/portal/../server.ts', {})).status).toBe(404);
  });

  it('leaves every other path to the web root', async () => {
    const page = await rawRequest(portal.url, 'GET', '/index.html', {});
    expect(page.status).toBe(200);
    expect(page.headers['content-security-policy']).toBeUndefined();
    expect((await rawRequest(portal.url, 'GET', '/nosuchsection', {})).status).toBe(404);
    expect((await rawRequest(portal.url, 'POST', '/', {})).status).toBe(405);
  });
});

describe('sessions', () => {
  it('gives a visitor a CSRF token in an HttpOnly SameSite=Strict cookie, and no user', async () => {
    const browser = new PortalClient(portal.url);
    const answer = await browser.session();
    expect(answer.status).toBe(200);
    expect(answer.headers['cache-control']).toBe('no-store');
    expect(answer.json).toMatchObject({ user: null, selfRegistration: true });
    expect(answer.json.csrf).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(answer.json.sections).toContainEqual({ id: 'admin', title: { en: 'Admin', zh: '管理' }, needsAccount: true, needsAdmin: true });
    expect(answer.setCookies).toHaveLength(1);
    expect(answer.setCookies[0]).toMatch(/^wharf_csrf=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Strict$/);
    // The same token while the cookie lasts.
    const again = await browser.session();
    expect(again.json.csrf).toBe(answer.json.csrf);
    expect(again.setCookies).toHaveLength(0);
  });

  it('signs in with the form\'s name and password: a session cookie (HttpOnly, SameSite=Strict, Path=/, not Secure without TLS)', async () => {
    const browser = new PortalClient(portal.url);
    const visitorCsrf = (await browser.session()).json.csrf;
    const answer = await browser.signIn('alice', 'secret');
    expect(answer.status).toBe(200);
    expect(answer.json.user).toEqual({ name: 'alice', admin: false });
    expect(answer.json.csrf).not.toBe(visitorCsrf);
    const session = answer.setCookies.find((line) => line.startsWith('wharf_session='));
    expect(session).toMatch(/^wharf_session=[A-Za-z0-9_-]{43}; Path=\/; Max-Age=2592000; HttpOnly; SameSite=Strict$/);
    expect((await browser.session()).json.user).toEqual({ name: 'alice', admin: false });
    // Only the token's hash is stored.
    const token = browser.cookies.get('wharf_session')!;
    const rows = await portal.store.db.selectFrom('portal_sessions').select('token_hash').execute();
    expect(rows.some((row) => row.token_hash === token)).toBe(false);
    expect(rows.every((row) => /^[0-9a-f]{64}$/.test(row.token_hash))).toBe(true);
  });

  it('refuses a wrong password (401) and a throttled name (429 with Retry-After)', async () => {
    const browser = new PortalClient(portal.url);
    await browser.session();
    const wrong = await browser.signIn('bob', 'nope');
    expect(wrong.status).toBe(401);
    expect(wrong.json.code).toBe('ELOGIN');
    expect(wrong.setCookies.some((line) => line.startsWith('wharf_session='))).toBe(false);
    await browser.signIn('bob', 'nope');
    const third = await browser.signIn('bob', 'nope');
    expect(third.status).toBe(429);
    const locked = await browser.signIn('bob', 'bobpw');
    expect(locked.status).toBe(429);
    expect(locked.json.code).toBe('ETHROTTLED');
    expect(Number(locked.headers['retry-after'])).toBeGreaterThan(0);
    expect((await browser.session()).json.user).toBeNull();
  });

  it('signs out: the cookie is cleared and the old token opens nothing any more', async () => {
    const browser = new PortalClient(portal.url);
    await browser.signIn('alice', 'secret');
    const token = browser.cookies.get('wharf_session')!;
    const out = await browser.call('DELETE', '/portal/api/session');
    expect(out.status).toBe(200);
    expect(out.json.user).toBeNull();
    expect(out.setCookies.some((line) => /^wharf_session=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict$/.test(line))).toBe(true);
    const replay = new PortalClient(portal.url);
    replay.cookies.set('wharf_session', token);
    const answer = await replay.session();
    expect(answer.json.user).toBeNull();
    expect(answer.setCookies.some((line) => line.startsWith('wharf_session=;'))).toBe(true);
  });

  it('creates an account and signs it in; refuses a taken name', async () => {
    const browser = new PortalClient(portal.url);
    await browser.session();
    const created = await browser.call('POST', '/portal/api/account', { body: { name: 'carol', password: 'carolpw' } });
    expect(created.status).toBe(201);
    expect(created.json.user).toEqual({ name: 'carol', admin: false });
    expect((await portal.store.accounts.get('carol'))?.role).toBe('user');
    const other = new PortalClient(portal.url);
    await other.session();
    const taken = await other.call('POST', '/portal/api/account', { body: { name: 'Carol', password: 'x' } });
    expect(taken.status).toBe(409);
    expect(taken.json.code).toBe('ETAKEN');
  });

  it('ends the sessions of an account that is locked, removed, or given a new password, at their next request', async () => {
    await portal.store.accounts.add('dave', 'davepw');
    const signedIn = async () => {
      const browser = new PortalClient(portal.url);
      expect((await browser.signIn('dave', 'davepw')).status).toBe(200);
      return browser;
    };
    let browser = await signedIn();
    await portal.store.accounts.setDisabled('dave', true);
    expect((await browser.session()).json.user).toBeNull();
    expect((await new PortalClient(portal.url).signIn('dave', 'davepw')).status).toBe(403);
    await portal.store.accounts.setDisabled('dave', false);
    // Unlocked again: the old session stays ended.
    expect((await browser.session()).json.user).toBeNull();

    browser = await signedIn();
    await portal.store.accounts.setPassword('dave', 'newpw');
    expect((await browser.session()).json.user).toBeNull();

    await portal.store.accounts.setPassword('dave', 'davepw');
    browser = await signedIn();
    await portal.store.accounts.remove('dave');
    await portal.store.accounts.add('dave', 'davepw');
    // A new account of the same name is not the old one.
    expect((await browser.session()).json.user).toBeNull();
  });
});

describe('CSRF and the same-origin rule on every state-changing request', () => {
  const attempts: Array<{ what: string; method: string; path: string; body: unknown }> = [
    { what: 'sign-in', method: 'POST', path: '/portal/api/session', body: { name: 'alice', password: 'secret' } },
    { what: 'sign-out', method: 'DELETE', path: '/portal/api/session', body: undefined },
    { what: 'create an account', method: 'POST', path: '/portal/api/account', body: { name: 'mallory', password: 'x' } },
    { what: 'admin: add an account', method: 'POST', path: '/portal/api/admin/accounts', body: { name: 'mallory', password: 'x', admin: true } },
    { what: 'admin: lock an account', method: 'PATCH', path: '/portal/api/admin/accounts', body: { name: 'alice', disabled: true } },
  ];
  const forged: Array<{ how: string; headers: Record<string, string | null> }> = [
    { how: 'without the token', headers: { 'X-CSRF-Token': null } },
    { how: 'with a wrong token', headers: { 'X-CSRF-Token': 'A'.repeat(43) } },
    { how: 'from another origin', headers: { Origin: 'http://evil.example' } },
    { how: 'from another port', headers: { Origin: 'http://127.0.0.1:1' } },
    { how: 'with Origin null', headers: { Origin: 'null' } },
    { how: 'cross-site by Sec-Fetch-Site, without Origin', headers: { Origin: null, 'Sec-Fetch-Site': 'cross-site' } },
    { how: 'saying nothing of where it comes from', headers: { Origin: null } },
  ];

  for (const attempt of attempts) {
    it(`refuses ${attempt.what} ${forged.map((f) => f.how).join(', ')}: 403 EFORBIDDEN and nothing done`, async () => {
      const admin = new PortalClient(portal.url);
      expect((await admin.signIn('boss', 'bosspw')).status).toBe(200);
      for (const { how, headers } of forged) {
        const answer = await admin.call(attempt.method, attempt.path, { body: attempt.body, headers });
        expect(answer.status, how).toBe(403);
        expect(answer.json.code, how).toBe('EFORBIDDEN');
      }
      expect((await admin.session()).json.user).toEqual({ name: 'boss', admin: true });
      expect(await portal.store.accounts.get('mallory')).toBeUndefined();
      expect((await portal.store.accounts.get('alice'))?.disabled).toBe(false);
    });
  }

  it('accepts Sec-Fetch-Site: same-origin with the token when there is no Origin', async () => {
    const browser = new PortalClient(portal.url);
    await browser.session();
    const answer = await browser.call('POST', '/portal/api/session', { body: { name: 'alice', password: 'secret' }, headers: { Origin: null, 'Sec-Fetch-Site': 'same-origin' } });
    expect(answer.status).toBe(200);
  });

  it('refuses a visitor token once signed in (the session\'s token is the one that counts)', async () => {
    const browser = new PortalClient(portal.url);
    const visitor = (await browser.session()).json.csrf;
    await browser.signIn('alice', 'secret');
    const answer = await browser.call('DELETE', '/portal/api/session', { headers: { 'X-CSRF-Token': visitor } });
    expect(answer.status).toBe(403);
    expect((await browser.session()).json.user).toEqual({ name: 'alice', admin: false });
  });

  it('refuses a body that is not JSON', async () => {
    const browser = new PortalClient(portal.url);
    await browser.session();
    const answer = await browser.call('POST', '/portal/api/session', { headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
    expect(answer.status).toBe(400);
    expect(answer.json.code).toBe('EBADVALUE');
  });
});

describe('under TLS', () => {
  it('marks the cookies Secure and checks the https origin, over HTTP/1.1 and HTTP/2', async () => {
    const tls = await startPortal({ accounts: [{ name: 'alice', password: 'secret' }], web: { cert: join(FIXTURES, 'localhost.crt'), key: join(FIXTURES, 'localhost.key') } });
    try {
      expect(tls.url).toMatch(/^https:/);
      const browser = new PortalClient(tls.url);
      const visitor = await browser.session();
      expect(visitor.setCookies[0]).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);
      expect((await browser.call('POST', '/portal/api/session', { body: { name: 'alice', password: 'secret' }, headers: { Origin: tls.url.replace('https:', 'http:') } })).status).toBe(403);
      const signedIn = await browser.signIn('alice', 'secret');
      expect(signedIn.status).toBe(200);
      expect(signedIn.setCookies.find((line) => line.startsWith('wharf_session='))).toMatch(/; HttpOnly; SameSite=Strict; Secure$/);

      const session = http2.connect(tls.url, { rejectUnauthorized: false });
      try {
        const answer = await new Promise<{ status: number; cookies: string[]; body: string }>((resolve, reject) => {
          const stream = session.request({ ':method': 'GET', ':path': '/portal/api/session', cookie: `wharf_session=${browser.cookies.get('wharf_session')}` });
          let status = 0;
          let cookies: string[] = [];
          const chunks: Buffer[] = [];
          stream.on('response', (headers) => {
            status = Number(headers[':status']);
            cookies = (headers['set-cookie'] as string[] | undefined) ?? [];
          });
          stream.on('data', (chunk: Buffer) => chunks.push(chunk));
          stream.on('end', () => resolve({ status, cookies, body: Buffer.concat(chunks).toString() }));
          stream.on('error', reject);
        });
        expect(answer.status).toBe(200);
        expect(JSON.parse(answer.body).user).toEqual({ name: 'alice', admin: false });
      } finally {
        session.close();
      }
    } finally {
      await tls.stop();
    }
  });
});
