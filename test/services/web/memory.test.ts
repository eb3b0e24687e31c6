import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync, rmSync } from 'node:fs';
import http2 from 'node:http2';
import net from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FIXTURES, makeSite, request, type Site } from './support.js';

/**
 * The documented memory bounds (docs/web.md, "Memory"), checked on a server in its own process
 * while peers ask for a large file and never read: its buffers stay under the per-connection
 * bound times the connections, a reader is served meanwhile, and all of it goes when they do.
 */

const MiB = 1024 * 1024;
const CONNECTION_MEMORY = 4 * MiB; // the default connectionMemoryBytes
const ATTACKERS = 4;
let site: Site;
const tls = { cert: join(FIXTURES, 'localhost.crt'), key: join(FIXTURES, 'localhost.key') };
const ca = readFileSync(tls.cert);

beforeAll(() => {
  site = makeSite({ bigBytes: 4 * MiB }); // over cacheMaxFileBytes (1 MiB): streamed from disk
});
afterAll(() => rmSync(site.base, { recursive: true, force: true }));

interface Child {
  port: number;
  /** Memory after a full GC, in MiB. */
  memory(): Promise<{ rss: number; arrayBuffers: number }>;
  stop(): Promise<void>;
}

const children: ChildProcessWithoutNullStreams[] = [];
const cleanups: Array<() => void> = [];
afterEach(() => {
  for (const cleanup of cleanups.splice(0)) cleanup();
  for (const child of children.splice(0)) child.kill();
});

async function startChild(config: Record<string, unknown>): Promise<Child> {
  const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', join(import.meta.dirname, 'memory-server.ts'), JSON.stringify({ root: site.root, ...config })], { stdio: 'pipe' });
  children.push(child);
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]();
  const first = await lines.next();
  const port = (JSON.parse(String(first.value)) as { port: number }).port;
  return {
    port,
    async memory() {
      child.stdin.write('mem\n');
      const usage = JSON.parse(String((await lines.next()).value)) as NodeJS.MemoryUsage;
      return { rss: usage.rss / MiB, arrayBuffers: usage.arrayBuffers / MiB };
    },
    async stop() {
      child.stdin.end();
      await once(child, 'exit');
    },
  };
}

/** What a well-behaved HTTP/2 client gets for a path: status and body length. */
function h2Get(port: number, path: string): Promise<{ status: number; length: number }> {
  return new Promise((resolve, reject) => {
    const session = http2.connect(`https://localhost:${port}`, { ca });
    session.on('error', reject);
    const stream = session.request({ ':path': path });
    let status = 0;
    let length = 0;
    stream.on('response', (headers) => (status = Number(headers[':status'])));
    stream.on('data', (chunk: Buffer) => (length += chunk.length));
    stream.on('end', () => {
      session.close();
      resolve({ status, length });
    });
    stream.on('error', reject);
  });
}

/** Poll (for up to 5 s) until the server's buffers are back under `limit` MiB: its peers' closes take a moment to arrive. */
async function releasedBelow(server: Child, limit: number): Promise<boolean> {
  for (let attempt = 0; attempt < 25; attempt++) {
    if ((await server.memory()).arrayBuffers < limit) return true;
    await settle(200);
  }
  return false;
}

const settle = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('memory under peers that never read', () => {
  it('HTTP/2: sessions opening hundreds of streams for a large file stay within the per-session bound', async () => {
    const server = await startChild(tls);
    const before = await server.memory();
    const attackers: http2.ClientHttp2Session[] = [];
    cleanups.push(() => attackers.forEach((s) => s.destroy()));
    for (let i = 0; i < ATTACKERS; i++) {
      const session = http2.connect(`https://localhost:${server.port}`, { ca });
      session.on('error', () => {});
      attackers.push(session);
      for (let s = 0; s < 300; s++) {
        const stream = session.request({ ':path': '/big.bin' });
        stream.on('error', () => {});
        stream.pause(); // never read
      }
    }
    await settle(1_000);
    // A reader on another connection is served meanwhile.
    expect(await h2Get(server.port, '/big.bin')).toEqual({ status: 200, length: site.big.length });
    const during = await server.memory();
    expect(during.arrayBuffers - before.arrayBuffers).toBeLessThan((ATTACKERS * CONNECTION_MEMORY) / MiB + 16);
    expect(during.rss - before.rss).toBeLessThan(200);
    for (const session of attackers) session.destroy();
    expect(await releasedBelow(server, before.arrayBuffers + 8)).toBe(true);
    await server.stop();
  });

  it('HTTP/1.1: connections pipelining hundreds of GETs for a large file stay within the per-connection bound', async () => {
    const server = await startChild({});
    const before = await server.memory();
    const attackers: net.Socket[] = [];
    cleanups.push(() => attackers.forEach((s) => s.destroy()));
    const pipelined = 'GET /big.bin HTTP/1.1\r\nHost: x\r\n\r\n'.repeat(600); // under maxPipelined
    for (let i = 0; i < ATTACKERS; i++) {
      const socket = net.connect({ port: server.port, host: '127.0.0.1' });
      socket.on('error', () => {});
      socket.pause(); // never read
      socket.write(pipelined);
      attackers.push(socket);
    }
    await settle(1_000);
    const reader = await request(server.port, '/big.bin');
    expect(reader.status).toBe(200);
    expect(reader.body.length).toBe(site.big.length);
    const during = await server.memory();
    expect(during.arrayBuffers - before.arrayBuffers).toBeLessThan((ATTACKERS * CONNECTION_MEMORY) / MiB + 16);
    expect(during.rss - before.rss).toBeLessThan(200);
    for (const socket of attackers) socket.destroy();
    expect(await releasedBelow(server, before.arrayBuffers + 8)).toBe(true);
    await server.stop();
  });
});
