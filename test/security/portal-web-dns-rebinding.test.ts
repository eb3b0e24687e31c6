/**
 * DNS rebinding: a page at `http://evil.example:8000/` whose name is made to resolve to 127.0.0.1
 * reaches the portal with `Host: evil.example:8000`, and its `Origin` then matches the origin the
 * portal builds from `Host`. Listening on loopback, the portal answers only the names a person
 * on this machine opens it by (IP literals, localhost) and those it is told (`portalHosts`), so
 * a page elsewhere can neither read the status nor register accounts through the browser.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPortal, type StartedPortal } from '../helpers/portal.js';
import { rawRequest } from '../services/web/portal-support.js';

let portal: StartedPortal;
let named: StartedPortal;

beforeAll(async () => {
  portal = await startPortal({ accounts: [{ name: 'alice', password: 'alicepw' }] });
  named = await startPortal({ web: { portalHosts: ['wharf.lan'] } });
});

afterAll(async () => {
  await portal?.stop();
  await named?.stop();
});

const port = (url: string) => new URL(url).port;

describe('the portal behind a name it does not know (DNS rebinding)', () => {
  it('refuses the shell, the status and account creation under a foreign Host, with nothing created', async () => {
    const host = `evil.example:${port(portal.url)}`;
    const origin = `http://${host}`;
    for (const [method, path] of [['GET', '/'], ['GET', '/portal/api/home/status'], ['GET', '/portal/api/session']] as const) {
      const answer = await rawRequest(portal.url, method, path, { Host: host });
      expect(answer.status, `${method} ${path}`).toBe(421);
      expect(answer.text).toMatch(/portalHosts/);
    }
    const create = await rawRequest(portal.url, 'POST', '/portal/api/account', { Host: host, Origin: origin, 'Content-Type': 'application/json' }, Buffer.from(JSON.stringify({ name: 'rebound', password: 'rebound-pw' })));
    expect(create.status).toBe(421);
    expect(await portal.store.accounts.get('rebound')).toBeUndefined();
  });

  it('answers under 127.0.0.1, localhost and [::1]-style literals, and under a name it was given', async () => {
    for (const host of [`127.0.0.1:${port(portal.url)}`, `localhost:${port(portal.url)}`, `app.localhost:${port(portal.url)}`]) {
      expect((await rawRequest(portal.url, 'GET', '/portal/api/session', { Host: host })).status, host).toBe(200);
    }
    expect((await rawRequest(named.url, 'GET', '/portal/api/session', { Host: `wharf.lan:${port(named.url)}` })).status).toBe(200);
    expect((await rawRequest(named.url, 'GET', '/portal/api/session', { Host: `evil.example:${port(named.url)}` })).status).toBe(421);
  });

  it('leaves the web root\'s own files to any Host, as a static server does', async () => {
    const answer = await rawRequest(portal.url, 'GET', '/index.html', { Host: `evil.example:${port(portal.url)}` });
    expect(answer.status).not.toBe(421);
  });
});
