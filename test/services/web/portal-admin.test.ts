/**
 * The portal's admin API (admin only, every action through store.accounts), the sections'
 * dispatch (an account needed, the path and the user given), WebSocket upgrades refused from
 * another origin, the home status, and `wharf web serve` serving a plain site with no portal.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { portalAssetPath, type PortalRequest } from '../../../src/core/portal.js';
import { webConfigSchema, webService } from '../../../src/services/web/server.js';
import { echoService } from '../../../src/services/echo/server.js';
import { tftpService } from '../../../src/services/tftp/server.js';
import { resolveConfig } from '../../../src/cli/config.js';
import { resourcesUsed } from '../../../src/core/service.js';
import { startPortal, type StartedPortal } from '../../helpers/portal.js';
import { makeSite, startWeb } from './support.js';
import { PortalClient, rawRequest, upgradeRequest } from './portal-support.js';

let portal: StartedPortal;
const seen: PortalRequest[] = [];
const upgrades: PortalRequest[] = [];

beforeAll(async () => {
  portal = await startPortal({
    services: [{ definition: echoService }, { definition: tftpService, config: { allowWrite: true } }],
    accounts: [
      { name: 'alice', password: 'secret' },
      { name: 'boss', password: 'bosspw', admin: true },
    ],
  });
  portal.host.portal.add({
    id: 'probe',
    title: { en: 'Probe', zh: '探针' },
    order: 50,
    needsAccount: true,
    script: portalAssetPath('shell.js'),
    handle(req, res, request) {
      seen.push(request);
      res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ user: request.user ?? null, path: request.path, q: request.query.get('q') }));
    },
    upgrade(_req, socket, _head, request) {
      upgrades.push(request);
      socket.end('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
    },
  });
});

afterAll(async () => {
  await portal?.stop();
});

describe('admin', () => {
  it('is for admins only: 401 for a visitor, 403 for an account without the role, on every request', async () => {
    const visitor = new PortalClient(portal.url);
    await visitor.session();
    expect((await visitor.call('GET', '/portal/api/admin/accounts')).status).toBe(401);
    const alice = new PortalClient(portal.url);
    await alice.signIn('alice', 'secret');
    for (const [method, path, body] of [
      ['GET', '/portal/api/admin/accounts', undefined],
      ['GET', '/portal/api/admin/status', undefined],
      ['POST', '/portal/api/admin/accounts', { name: 'eve', password: 'x', admin: true }],
      ['PATCH', '/portal/api/admin/accounts', { name: 'alice', quota: 1 }],
    ] as const) {
      const answer = await alice.call(method, path, { body });
      expect(answer.status, `${method} ${path}`).toBe(403);
      expect(answer.json.code).toBe('EFORBIDDEN');
    }
    expect(await portal.store.accounts.get('eve')).toBeUndefined();
    expect((await portal.store.accounts.get('alice'))?.quotaBytes).not.toBe(1);
  });

  it('lists, adds, locks, unlocks, resets a password and sets a quota', async () => {
    const boss = new PortalClient(portal.url);
    await boss.signIn('boss', 'bosspw');
    const list = await boss.call('GET', '/portal/api/admin/accounts');
    expect(list.status).toBe(200);
    expect(list.json.accounts.map((account: { name: string }) => account.name)).toEqual(expect.arrayContaining(['alice', 'boss']));
    expect(list.json.accounts[0]).toMatchObject({ admin: expect.any(Boolean), disabled: false, quotaBytes: expect.any(Number), bytesUsed: 0 });

    const added = await boss.call('POST', '/portal/api/admin/accounts', { body: { name: 'frank', password: 'frankpw', quota: '5M' } });
    expect(added.status).toBe(201);
    expect(added.json.account).toMatchObject({ name: 'frank', admin: false, quotaBytes: 5 * 1024 * 1024 });
    const frank = new PortalClient(portal.url);
    expect((await frank.signIn('frank', 'frankpw')).status).toBe(200);

    const locked = await boss.call('PATCH', '/portal/api/admin/accounts', { body: { name: 'frank', disabled: true } });
    expect(locked.json.account.disabled).toBe(true);
    expect((await frank.session()).json.user).toBeNull();
    expect((await new PortalClient(portal.url).signIn('frank', 'frankpw')).status).toBe(403);
    await boss.call('PATCH', '/portal/api/admin/accounts', { body: { name: 'frank', disabled: false } });

    expect((await boss.call('PATCH', '/portal/api/admin/accounts', { body: { name: 'frank', password: 'fresh', quota: 1000 } })).status).toBe(200);
    expect((await new PortalClient(portal.url).signIn('frank', 'frankpw')).status).toBe(401);
    expect((await new PortalClient(portal.url).signIn('frank', 'fresh')).status).toBe(200);
    expect((await portal.store.accounts.get('frank'))?.quotaBytes).toBe(1000);

    const taken = await boss.call('POST', '/portal/api/admin/accounts', { body: { name: 'FRANK', password: 'x' } });
    expect(taken.status).toBe(409);
    const bad = await boss.call('PATCH', '/portal/api/admin/accounts', { body: { name: 'frank', quota: 'lots' } });
    expect(bad.status).toBe(400);
    const nobody = await boss.call('PATCH', '/portal/api/admin/accounts', { body: { name: 'nobody', disabled: true } });
    expect(nobody.status).toBe(404);
    const self = await boss.call('PATCH', '/portal/api/admin/accounts', { body: { name: 'boss', disabled: true } });
    expect(self.status).toBe(400);
    expect((await portal.store.accounts.get('boss'))?.disabled).toBe(false);
  });

  it('shows every service\'s status to an admin, and the home status to anyone', async () => {
    const boss = new PortalClient(portal.url);
    await boss.signIn('boss', 'bosspw');
    const status = await boss.call('GET', '/portal/api/admin/status');
    expect(status.status).toBe(200);
    const web = status.json.services.find((service: { name: string }) => service.name === 'web');
    expect(web.addresses).toEqual([`${portal.url}/`]);
    expect(web.connectionsOpen).toBeGreaterThanOrEqual(1);
    expect(web.clientCommands).toContainEqual({ summary: 'fetch the home page', command: `curl ${portal.url}/` });
    const home = await new PortalClient(portal.url).call('GET', '/portal/api/home/status');
    expect(home.status).toBe(200);
    expect(home.json.services.map((service: { name: string }) => service.name)).toEqual(['echo', 'tftp', 'web']);
    const commands = (name: string) => home.json.services.find((service: { name: string }) => service.name === name).clientCommands.map((command: { command: string }) => command.command);
    const echoPort = portal.services.get('echo')!.addresses[0]!.port;
    const tftpPort = portal.services.get('tftp')!.addresses[0]!.port;
    expect(commands('echo')).toEqual([`echo hi | nc -N 127.0.0.1 ${echoPort}`, `echo hi | nc -u -w1 127.0.0.1 ${echoPort}`]);
    if (existsSync('/usr/bin/nc') || existsSync('/bin/nc')) {
      // The commands work as pasted, with the standard client.
      for (const command of commands('echo')) expect((await promisify(execFile)('sh', ['-c', command], { timeout: 5_000 })).stdout, command).toBe('hi\n');
    }
    expect(commands('tftp')).toEqual([`tftp 127.0.0.1 ${tftpPort} -c get FILE`, `curl -o FILE tftp://127.0.0.1:${tftpPort}/FILE`, `curl -T FILE tftp://127.0.0.1:${tftpPort}/`]);
  });
});

describe('sections', () => {
  it('passes a section its requests with the account and the path below its root; a visitor gets 401', async () => {
    const visitor = new PortalClient(portal.url);
    expect((await visitor.call('GET', '/portal/api/probe/x')).status).toBe(401);
    const alice = new PortalClient(portal.url);
    await alice.signIn('alice', 'secret');
    const answer = await alice.call('GET', '/portal/api/probe/list%2Fx?q=%E4%BD%A0');
    expect(answer.json).toEqual({ user: { name: 'alice', admin: false }, path: '/list%2Fx', q: '你' });
    expect(seen.at(-1)).toMatchObject({ origin: portal.url, secure: false, peer: '127.0.0.1' });
    expect((await alice.call('GET', '/portal/api/probe')).json.path).toBe('/');
    expect((await alice.call('GET', '/portal/api/nosuch/x')).status).toBe(404);
    // A section's page is a page of the shell.
    expect((await rawRequest(portal.url, 'GET', '/probe', {})).headers['content-security-policy']).toBeDefined();
  });

  it('refuses a WebSocket from another origin (403, the section never sees it) and passes a same-origin one with the account', async () => {
    const alice = new PortalClient(portal.url);
    await alice.signIn('alice', 'secret');
    const cookie = `wharf_session=${alice.cookies.get('wharf_session')}`;
    for (const origin of ['http://evil.example', 'null', `${portal.url}.evil.example`]) {
      const head = await upgradeRequest(portal.url, '/portal/api/probe/socket', { Origin: origin, Cookie: cookie });
      expect(head, origin).toMatch(/^HTTP\/1\.1 403 /);
    }
    expect(await upgradeRequest(portal.url, '/portal/api/probe/socket', { Cookie: cookie })).toMatch(/^HTTP\/1\.1 403 /);
    expect(upgrades).toHaveLength(0);
    expect(await upgradeRequest(portal.url, '/portal/api/probe/socket', { Origin: portal.url })).toMatch(/^HTTP\/1\.1 401 /);
    const head = await upgradeRequest(portal.url, '/portal/api/probe/socket', { Origin: portal.url, Cookie: cookie });
    expect(head).toMatch(/^HTTP\/1\.1 101 /);
    expect(upgrades).toHaveLength(1);
    expect(upgrades[0]).toMatchObject({ user: { name: 'alice', admin: false }, path: '/socket' });
    expect(await upgradeRequest(portal.url, '/elsewhere', { Origin: portal.url })).toMatch(/^HTTP\/1\.1 404 /);
  });
});

describe('wharf web serve: a plain site', () => {
  it('has no portal unless asked: the web root answers /, and nothing under /portal', async () => {
    const site = makeSite();
    const web = await startWeb(site.root);
    try {
      const home = await rawRequest(web.url, 'GET', '/', {});
      expect(home.text).toContain('<h1>home</h1>');
      expect(home.headers['content-security-policy']).toBeUndefined();
      expect((await rawRequest(web.url, 'GET', '/portal/api/session', {})).status).toBe(404);
      expect((await rawRequest(web.url, 'GET', '/portal/shell.js', {})).status).toBe(404);
    } finally {
      await web.stop();
    }
  });

  it('is the default of `wharf web serve`; `wharf serve` turns the portal on, and the web service then needs the store', () => {
    const plain = webConfigSchema.parse({});
    expect(plain.portal).toBe(false);
    expect(resourcesUsed(webService, plain)).toEqual([]);
    const served = resolveConfig([webService as never], { serviceDefaults: { web: { portal: true } } }).services.get('web') as typeof plain;
    expect(served.portal).toBe(true);
    expect(resourcesUsed(webService, served)).toEqual(['store']);
    const off = resolveConfig([webService as never], { serviceDefaults: { web: { portal: true } }, sets: ['web.portal=false'] }).services.get('web') as typeof plain;
    expect(off.portal).toBe(false);
  });
});
