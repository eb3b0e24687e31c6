/**
 * Cookie tossing (issue #19, "Security"): cookies ignore ports, so any other program that serves
 * pages on the portal's host (127.0.0.1:OTHERPORT, a sibling subdomain) can set a `wharf_session`
 * cookie of its own for the host, with a longer Path so the browser sends it first. The portal
 * must not then act for the attacker's account in the victim's browser (the victim's uploads and
 * diary entries landing in the attacker's account): a cookie sent twice with different values
 * opens no session.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPortal, type StartedPortal } from '../helpers/portal.js';
import { PortalClient } from '../services/web/portal-support.js';

let portal: StartedPortal;

beforeAll(async () => {
  portal = await startPortal({ accounts: [{ name: 'alice', password: 'alicepw' }, { name: 'mallory', password: 'mallorypw' }] });
});

afterAll(async () => {
  await portal?.stop();
});

describe('a session cookie tossed in by another program on the same host', () => {
  it('opens no session when the request carries two different session cookies', async () => {
    const victim = new PortalClient(portal.url);
    expect((await victim.signIn('alice', 'alicepw')).status).toBe(200);
    const attacker = new PortalClient(portal.url);
    expect((await attacker.signIn('mallory', 'mallorypw')).status).toBe(200);
    const victimToken = victim.cookies.get('wharf_session') ?? '';
    const attackerToken = attacker.cookies.get('wharf_session') ?? '';
    expect(victimToken).not.toBe('');
    expect(attackerToken).not.toBe('');

    // The browser sends the tossed cookie (Path=/portal/api) before the portal's own (Path=/).
    const tossed = await victim.call('GET', '/portal/api/session', { headers: { Cookie: `wharf_session=${attackerToken}; wharf_session=${victimToken}` } });
    expect(tossed.status).toBe(200);
    expect(tossed.json.user?.name).not.toBe('mallory');
    expect(tossed.json.user).toBeNull();

    // Either order: the portal cannot tell which one is its own.
    const reversed = await victim.call('GET', '/portal/api/session', { headers: { Cookie: `wharf_session=${victimToken}; wharf_session=${attackerToken}` } });
    expect(reversed.json.user).toBeNull();

    // The same cookie sent twice (a browser with the portal's cookie at two paths) is not ambiguous.
    const twice = await victim.call('GET', '/portal/api/session', { headers: { Cookie: `wharf_session=${victimToken}; wharf_session=${victimToken}` } });
    expect(twice.json.user?.name).toBe('alice');

    // A state-changing request with the tossed cookie first is not done as mallory either.
    const signOut = await victim.call('DELETE', '/portal/api/session', { headers: { Cookie: `wharf_session=${attackerToken}; wharf_session=${victimToken}`, 'X-CSRF-Token': attacker.csrf } });
    expect(signOut.status).toBe(403);
    expect((await attacker.session()).json.user?.name).toBe('mallory');
  });
});
