/**
 * A session that ends takes its open connections with it: a chat WebSocket and a diary's live
 * stream are checked once when they open, so without this a signed-out or locked account would
 * keep chatting and reading for as long as the tab stayed open.
 */
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { chatService } from '../../../src/services/chat/index.js';
import { diaryService } from '../../../src/services/diary/index.js';
import { startPortal, type StartedPortal } from '../../helpers/portal.js';
import { PortalClient } from './portal-support.js';

let portal: StartedPortal;

beforeAll(async () => {
  portal = await startPortal({
    services: [{ definition: chatService }, { definition: diaryService }],
    accounts: [
      { name: 'alice', password: 'alicepw' },
      { name: 'bob', password: 'bobpw' },
      { name: 'boss', password: 'bosspw', admin: true },
    ],
  });
});

afterAll(async () => {
  await portal?.stop();
});

function cookieHeader(client: PortalClient): string {
  return [...client.cookies].map(([name, value]) => `${name}=${value}`).join('; ');
}

/** Resolves with the milliseconds from `since` until `emitter` closes, or rejects after `timeoutMs`. */
function closedWithin(emitter: { once(event: 'close', listener: () => void): unknown }, timeoutMs: number): Promise<number> {
  const since = Date.now();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`still open after ${timeoutMs} ms`)), timeoutMs);
    emitter.once('close', () => {
      clearTimeout(timer);
      resolve(Date.now() - since);
    });
  });
}

describe('the portal cuts the open connections of a session that ended', () => {
  it('a chat WebSocket closes when its session signs out, and a new one is refused', async () => {
    const alice = new PortalClient(portal.url);
    await alice.call('GET', '/portal/api/session');
    expect((await alice.signIn('alice', 'alicepw')).status).toBe(200);
    const socketUrl = `${portal.url.replace(/^http/, 'ws')}/portal/api/chat/socket`;
    const socket = new WebSocket(socketUrl, { headers: { Origin: alice.origin, Cookie: cookieHeader(alice) } });
    const hello = await new Promise<{ type: string; name: string }>((resolve, reject) => {
      socket.once('message', (data) => resolve(JSON.parse(String(data)) as { type: string; name: string }));
      socket.once('error', reject);
    });
    expect(hello).toMatchObject({ type: 'hello', name: 'alice' });
    const closed = closedWithin(socket, 5_000);
    const cookies = cookieHeader(alice);
    expect((await alice.call('DELETE', '/portal/api/session')).status).toBeLessThan(300);
    await closed;
    // The old cookie opens nothing any more.
    const again = new WebSocket(socketUrl, { headers: { Origin: alice.origin, Cookie: cookies } });
    const status = await new Promise<number>((resolve) => again.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
    expect(status).toBe(401);
  });

  it("a diary's live stream closes when an admin locks the account", async () => {
    const bob = new PortalClient(portal.url);
    await bob.call('GET', '/portal/api/session');
    expect((await bob.signIn('bob', 'bobpw')).status).toBe(200);
    const stream = await new Promise<http.IncomingMessage>((resolve, reject) => {
      const request = http.get(`${portal.url}/portal/api/diary/events?diary=mine`, { headers: { Accept: 'text/event-stream', Cookie: cookieHeader(bob) } }, resolve);
      request.once('error', reject);
    });
    expect(stream.statusCode).toBe(200);
    stream.resume();
    const closed = closedWithin(stream, 5_000);
    const boss = new PortalClient(portal.url);
    await boss.call('GET', '/portal/api/session');
    expect((await boss.signIn('boss', 'bosspw')).status).toBe(200);
    expect((await boss.call('PATCH', '/portal/api/admin/accounts', { body: { name: 'bob', disabled: true } })).status).toBe(200);
    await closed;
  });
});
