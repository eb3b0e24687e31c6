/**
 * The portal's live-connection table (src/services/web/portal/live-connections.ts) must not grow
 * per request: a section request is tracked after its session is read from the database, and a
 * client that hung up during that read has already closed its response, whose 'close' will
 * never fire again. Such a request must not stay in the table (it would stay for as long as the
 * session lives, up to 30 days, and keep the session from idling out: every sweep touches it).
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../../src/core/logger.js';
import { LiveConnections } from '../../../src/services/web/portal/live-connections.js';

let server: http.Server | undefined;
let live: LiveConnections | undefined;

afterEach(async () => {
  live?.close();
  await new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve())));
});

describe('live connections', () => {
  it('forgets a request whose client hung up before it was tracked', async () => {
    live = new LiveConnections({ stillOpen: () => Promise.resolve(true), logger: createLogger({ level: 'silent' }) });
    const tracker = live;
    let handled = 0;
    server = http.createServer((req, res) => {
      void (async () => {
        // What portal.ts does: read the session (the database), then track the response.
        await sleep(150);
        tracker.track('token-of-a-live-session', { end: () => res.destroy() }, res);
        handled++;
        res.end('{}');
      })();
    });
    await new Promise<void>((resolve) => server?.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    for (let i = 0; i < 5; i++) {
      const req = http.request({ host: '127.0.0.1', port, path: '/portal/api/files/list', agent: false });
      req.on('error', () => {});
      req.end();
      setTimeout(() => req.destroy(), 30);
    }
    while (handled < 5) await sleep(20);
    await sleep(50);
    expect(live.size).toBe(0);
  });
});
