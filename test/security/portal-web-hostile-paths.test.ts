/**
 * A hostile reviewer's probes of the portal's dispatcher (issue #19, "Security"): path tricks
 * that try to reach the admin API without the admin role, garbage targets, cookies and
 * methods. Each is refused with the portal's JSON (never a 500 or a stack), and the server keeps
 * answering.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPortal, type StartedPortal } from '../helpers/portal.js';
import { PortalClient, rawRequest } from '../services/web/portal-support.js';

let portal: StartedPortal;

beforeAll(async () => {
  portal = await startPortal({ accounts: [{ name: 'alice', password: 'alicepw' }, { name: 'boss', password: 'bosspw', admin: true }] });
});

afterAll(async () => {
  await portal?.stop();
});

describe('the dispatcher under hostile requests', () => {
  it('never lets an account without the admin role reach the admin API by a path trick', async () => {
    const alice = new PortalClient(portal.url);
    expect((await alice.signIn('alice', 'alicepw')).status).toBe(200);
    const tricks = [
      '/portal/api/admin/accounts',
      '/portal/api/admin/accounts/',
      '/portal/api/admin//accounts',
      '/portal/api/ADMIN/accounts',
      '/portal/api/Admin/accounts',
      '/portal/api/admin%2Faccounts',
      '/portal/api/admin%2faccounts',
      '/portal/api//admin/accounts',
      '/portal/api/session/../admin/accounts',
      '/portal/api/home/../admin/accounts',
      '/portal/api/x/../admin/accounts',
      '/portal/api/%61dmin/accounts',
      '/portal/api/admin;x/accounts',
      '/portal/api/admin/./accounts',
      '/portal/api/admin/%2e%2e/admin/accounts',
    ];
    for (const path of tricks) {
      for (const method of ['GET', 'PATCH']) {
        const answer = await alice.call(method, path, method === 'GET' ? {} : { body: { name: 'alice', admin: true } });
        expect([401, 403, 404], `${method} ${path}`).toContain(answer.status);
        expect(answer.text, `${method} ${path}`).not.toContain('"accounts"');
        expect(answer.text).not.toMatch(/at .*\.(ts|js):\d+/);
      }
    }
    expect((await alice.session()).json.user).toEqual({ name: 'alice', admin: false });
  });

  it('answers garbage targets, cookies and methods without a 500 or a stack', async () => {
    const probes: Array<[string, string, Record<string, string>]> = [
      ['GET', '/portal/pages/../../x.js', {}],
      ['GET', '/portal/pages/%2e%2e%2f%2e%2e%2fpackage.js', {}],
      ['GET', '/portal/%E0%A4%A', {}],
      ['GET', '/portal/api/%E0%A4%A/x?%%%=%ZZ', {}],
      ['GET', `/portal/api/session?${'a='.repeat(3000)}`, {}],
      ['GET', '/portal/api/session', { Cookie: `wharf_session=${'x'.repeat(8000)}; ${'y=1; '.repeat(500)}` }],
      ['GET', '/portal/api/session', { Cookie: 'wharf_session=%ZZ; wharf_csrf=%00' }],
      ['OPTIONS', '/portal/api/session', {}],
      ['OPTIONS', '/portal/api/admin/accounts', {}],
      ['HEAD', '/portal/api/account', {}],
      ['GET', '/portal/api/', {}],
      ['GET', '/portal/api', {}],
      ['GET', '/portal', {}],
      ['PUT', '/portal/shell.js', { Origin: portal.url.replace(/\/$/, '') }],
      ['DELETE', '/chat', {}],
    ];
    for (const [method, path, headers] of probes) {
      const answer = await rawRequest(portal.url, method, path, headers);
      expect(answer.status, `${method} ${path}`).toBeLessThan(500);
      expect(answer.text, `${method} ${path}`).not.toMatch(/at .*\.(ts|js):\d+/);
    }
    expect((await rawRequest(portal.url, 'GET', '/portal/api/session', {})).status).toBe(200);
  });
});
