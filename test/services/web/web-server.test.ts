import { rmSync } from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { WebServer } from '../../../src/index.js';
import { makeSite, request } from './support.js';

const site = makeSite();
afterAll(() => rmSync(site.base, { recursive: true, force: true }));

describe('WebServer, the seed class (seed 000 §10)', () => {
  it('is one line to use: new WebServer({ host, port, root }).start()', async () => {
    const server = new WebServer({ host: '127.0.0.1', port: 0, root: site.root });
    const addresses = await server.start();
    expect(addresses).toEqual([{ transport: 'tcp', address: '127.0.0.1', port: server.port }]);
    expect(server.url).toBe(`http://127.0.0.1:${server.port}/`);
    const res = await fetch(server.url);
    expect(res.status).toBe(200);
    expect(await res.text()).toContain('<h1>home</h1>');
    // The seed's 404 for anything else, politely.
    expect((await fetch(new URL('/first.html', server.url))).status).toBe(404);
    await server.stop();
    await expect(fetch(new URL('/', `http://127.0.0.1:${addresses[0]!.port}`))).rejects.toThrow();
  });

  it("takes the seed's positional form WebServer(host, port, html)", async () => {
    const server = new WebServer('127.0.0.1', 0, site.root);
    await server.start();
    expect((await request(server.port, '/style.css')).status).toBe(200);
    await server.stop();
  });

  it('accepts html as the root, and every service option', async () => {
    const server = new WebServer({ port: 0, html: site.root, listing: true, cors: true });
    await server.start();
    const listing = await request(server.port, '/files/');
    expect(listing.status).toBe(200);
    expect(listing.headers['access-control-allow-origin']).toBe('*');
    await server.stop();
  });

  it('starts once however often start() is called, and reports a busy port', async () => {
    const server = new WebServer({ port: 0, root: site.root });
    const [a, b] = await Promise.all([server.start(), server.start()]);
    expect(a).toBe(b);
    const clash = new WebServer({ port: server.port, root: site.root });
    await expect(clash.start()).rejects.toThrow(/already in use/);
    await server.stop();
    await server.stop(); // a second stop is harmless
    expect(() => server.url).toThrow(/not started/);
  });
});
