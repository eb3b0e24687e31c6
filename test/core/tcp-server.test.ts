import net from 'node:net';
import { existsSync, mkdtempSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { StreamServer, type StreamServerOptions } from '../../src/core/tcp-server.js';
import type { Connection, StreamHandler } from '../../src/core/connection.js';
import { WharfError } from '../../src/core/errors.js';
import { closed, connect, readToEnd, readUntil, waitFor } from '../helpers/net.js';

const servers: StreamServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop(100)));
});

async function start(options: Partial<StreamServerOptions> & Pick<StreamServerOptions, 'onConnection'>): Promise<StreamServer> {
  const server = await StreamServer.listen({ port: 0, ...options });
  servers.push(server);
  return server;
}

const echo = (connection: Connection): StreamHandler => ({ data: (chunk) => void connection.write(chunk) });

describe('StreamServer', () => {
  it('binds 127.0.0.1 by default and reports the real port', async () => {
    const server = await start({ onConnection: echo });
    expect(server.addresses).toEqual([{ transport: 'tcp', address: '127.0.0.1', port: server.port }]);
    expect(server.port).toBeGreaterThan(0);
  });

  it('names the problem when the port is taken', async () => {
    const first = await start({ onConnection: echo });
    await expect(StreamServer.listen({ port: first.port, onConnection: echo })).rejects.toThrow(/already in use/);
  });

  it('refuses connections past maxConnections with the polite message, and serves again once one leaves', async () => {
    const server = await start({ maxConnections: 2, onConnection: echo, refusal: (reason) => `421 ${reason}\r\n` });
    const a = await connect(server.port);
    const b = await connect(server.port);
    await waitFor(() => server.connectionCount === 2);
    const c = await connect(server.port);
    expect((await readToEnd(c)).toString()).toBe('421 server-full\r\n');
    expect(server.metrics.connectionsRefused).toBe(1);
    a.destroy();
    await waitFor(() => server.connectionCount === 1);
    const d = await connect(server.port);
    d.write('still here');
    expect((await readUntil(d, (r) => r.length >= 10)).toString()).toBe('still here');
    b.destroy();
    d.destroy();
  });

  it('limits connections per client IP', async () => {
    const server = await start({ maxConnectionsPerIp: 1, onConnection: echo });
    const a = await connect(server.port);
    await waitFor(() => server.connectionCount === 1);
    const b = await connect(server.port);
    await closed(b);
    expect(server.metrics.connectionsRefused).toBe(1);
    // A different loopback address is a different client.
    const c = await connect(server.port, '127.0.0.1');
    await closed(c);
    a.destroy();
  });

  it('keeps a peer that talks, however long, and counts idleness from its last message; a handler may answer it', async () => {
    const timedOut: number[] = [];
    const server = await start({
      idleTimeoutMs: 1_000,
      onConnection: (connection) => ({
        data: (chunk) => void connection.write(chunk),
        timeout: () => {
          timedOut.push(Date.now());
          connection.end('bye\n');
        },
      }),
    });
    const chatty = await connect(server.port);
    const startedAt = Date.now();
    let lastAt = startedAt;
    // 2.5 s of a byte every 100 ms: longer than two idle timeouts, never idle for one (a loaded
    // machine may stretch a 100 ms sleep, but not to a second).
    while (Date.now() - startedAt < 2_500) {
      chatty.write('x');
      lastAt = Date.now();
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    expect(timedOut).toEqual([]);
    const goodbye = readToEnd(chatty);
    expect((await goodbye).toString()).toMatch(/bye\n$/);
    expect(timedOut).toHaveLength(1);
    expect(timedOut[0]! - lastAt).toBeGreaterThanOrEqual(950); // never before the timeout (timers may round down by a few ms)
  });

  it('drops a peer that connects and says nothing once the idle timeout passes', async () => {
    const server = await start({ idleTimeoutMs: 150, onConnection: echo });
    const silent = await connect(server.port);
    const startedAt = Date.now();
    await closed(silent, 3_000);
    expect(Date.now() - startedAt).toBeGreaterThanOrEqual(100);
    await waitFor(() => server.connectionCount === 0);
  });

  it('keeps answering a peer that half-closes (printf ... | nc)', async () => {
    const server = await start({
      onConnection: (connection) => {
        const chunks: Buffer[] = [];
        return {
          data: (chunk) => void chunks.push(chunk),
          // Answer only after the peer has finished sending.
          end: () => connection.end(Buffer.concat(chunks).toString().toUpperCase()),
        };
      },
    });
    const socket = await connect(server.port);
    socket.end('shout this');
    expect((await readToEnd(socket)).toString()).toBe('SHOUT THIS');
  });

  it('stops reading from a peer that does not read, and keeps memory bounded', async () => {
    const server = await start({ writeHighWaterBytes: 64 * 1024, maxWriteQueueBytes: 1024 * 1024, onConnection: echo });
    const greedy = net.connect({ port: server.port, host: '127.0.0.1' });
    greedy.on('error', () => {});
    greedy.pause(); // never reads what the server echoes
    const block = Buffer.alloc(64 * 1024, 0x61);
    let written = 0;
    await new Promise<void>((resolve) => {
      const pump = () => {
        while (written < 64 * 1024 * 1024) {
          written += block.length;
          if (!greedy.write(block)) {
            greedy.once('drain', pump);
            return;
          }
        }
        resolve();
      };
      greedy.on('connect', pump);
      // Flow control stops us long before 64 MiB: give it time to stall, then look.
      setTimeout(resolve, 1_500);
    });
    const [connection] = [...server.connections];
    // The server holds at most its hard limit for this peer (or has already dropped it).
    if (connection && !connection.closed) expect(connection.writeQueueBytes).toBeLessThanOrEqual(1024 * 1024 + 64 * 1024);
    expect(written).toBeLessThan(64 * 1024 * 1024);
    // Other clients are unaffected.
    const other = await connect(server.port);
    other.write('ping');
    expect((await readUntil(other, (r) => r.length >= 4)).toString()).toBe('ping');
    greedy.destroy();
    other.destroy();
  });

  it('disconnects a peer whose unread replies pass the hard limit', async () => {
    const big = Buffer.alloc(512 * 1024, 0x62);
    const server = await start({
      writeHighWaterBytes: 64 * 1024,
      maxWriteQueueBytes: 256 * 1024,
      onConnection: (connection) => ({ data: () => void connection.write(big) }),
    });
    const socket = net.connect({ port: server.port, host: '127.0.0.1' });
    socket.on('error', () => {});
    socket.pause();
    // Each "go" asks for 512 KiB more; loopback's kernel buffers take a few MiB first.
    const asking = setInterval(() => socket.write('go'), 10);
    try {
      await waitFor(() => server.metrics.errors >= 1, 10_000, 'the non-reading peer to be dropped');
      await waitFor(() => server.connectionCount === 0, 5_000, 'the connection to be gone');
    } finally {
      clearInterval(asking);
      socket.destroy();
    }
  });

  it('contains a handler that throws to its own connection', async () => {
    const server = await start({
      onConnection: (connection) => ({
        data(chunk) {
          if (chunk.toString().includes('boom')) throw new WharfError('EPROTOCOL', 'bad input');
          connection.write(chunk);
        },
      }),
    });
    const bad = await connect(server.port);
    const good = await connect(server.port);
    bad.write('boom');
    await closed(bad);
    good.write('fine');
    expect((await readUntil(good, (r) => r.length >= 4)).toString()).toBe('fine');
    expect(server.metrics.errors).toBe(1);
    good.destroy();
  });

  it('survives 10,000 connections opened and dropped, and counts them all', async () => {
    // A peer whose reset was lost in an overflowing queue looks alive until the idle timeout.
    const server = await start({ onConnection: echo, maxConnectionsPerIp: 0, idleTimeoutMs: 1_000 });
    const total = 10_000;
    let done = 0;
    // Below the listen backlog: an overflowing accept queue makes the kernel drop handshakes.
    const batch = 250;
    while (done < total) {
      await Promise.all(
        Array.from({ length: batch }, () => new Promise<void>((resolve) => {
          const s = net.connect({ port: server.port, host: '127.0.0.1' });
          s.on('connect', () => s.destroy());
          s.on('error', () => resolve());
          s.on('close', () => resolve());
        })),
      );
      done += batch;
    }
    await waitFor(() => server.connectionCount === 0, 10_000, 'all connections to be forgotten');
    expect(server.metrics.connectionsOpen).toBe(0);
    expect(server.metrics.connectionsTotal).toBeGreaterThan(total * 0.99);
    const after = await connect(server.port);
    after.write('alive');
    expect((await readUntil(after, (r) => r.length >= 5)).toString()).toBe('alive');
    after.destroy();
  }, 60_000);

  describe('graceful shutdown', () => {
    it('asks handlers to finish, then resolves when they have', async () => {
      const server = await StreamServer.listen({
        port: 0,
        onConnection: (connection) => ({ data: () => {}, shutdown: () => connection.end('bye\n') }),
      });
      const socket = await connect(server.port);
      await waitFor(() => server.connectionCount === 1);
      const received = readToEnd(socket);
      await server.stop(2_000);
      expect((await received).toString()).toBe('bye\n');
      // No longer accepting.
      await expect(connect(server.port)).rejects.toThrow();
    });

    it('closes connections still open at the deadline', async () => {
      const server = await StreamServer.listen({
        port: 0,
        onConnection: () => ({ data: () => {}, shutdown: () => {} /* ignores the request */ }),
      });
      const socket = await connect(server.port);
      await waitFor(() => server.connectionCount === 1);
      const startedAt = Date.now();
      await server.stop(200);
      await closed(socket);
      expect(Date.now() - startedAt).toBeGreaterThanOrEqual(150);
      expect(server.connectionCount).toBe(0);
    });
  });

  it('serves a Unix stream socket, and replaces a stale socket file', async () => {
    const path = join(mkdtempSync(join(tmpdir(), 'wharf-unix-')), 'echo.sock');
    const first = await StreamServer.listen({ path, onConnection: echo });
    expect(first.addresses).toEqual([{ transport: 'unix', address: path, port: 0 }]);
    // A live server's socket is not stolen.
    await expect(StreamServer.listen({ path, onConnection: echo })).rejects.toThrow();
    const client = net.connect({ path });
    await new Promise((r) => client.once('connect', r));
    client.write('unix');
    expect((await readUntil(client, (r) => r.length >= 4)).toString()).toBe('unix');
    client.destroy();
    await first.stop(100);
    // A server killed with SIGKILL leaves its socket file behind; the next listen replaces it.
    const crashed = spawn(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(path)}, () => console.log('up'))`]);
    await new Promise((r) => crashed.stdout.once('data', r));
    crashed.kill('SIGKILL');
    await new Promise((r) => crashed.once('exit', r));
    expect(existsSync(path)).toBe(true);
    const second = await StreamServer.listen({ path, onConnection: echo });
    servers.push(second);
  });
});
