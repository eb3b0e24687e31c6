import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { DatagramServer } from '../../src/core/udp-server.js';
import { DatagramClient } from '../../src/core/client.js';
import { RateLimiter } from '../../src/core/rate-limiter.js';
import { waitFor } from '../helpers/net.js';

const servers: DatagramServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.stop()));
});

describe('DatagramServer', () => {
  it('answers each datagram, survives a handler that throws, and counts it', async () => {
    const server = await DatagramServer.bind({
      port: 0,
      onMessage(message, peer, self) {
        if (message.toString() === 'boom') throw new Error('handler bug');
        self.reply(peer, Buffer.concat([Buffer.from('re:'), message]));
      },
    });
    servers.push(server);
    expect(server.addresses[0]).toMatchObject({ transport: 'udp', address: '127.0.0.1' });
    const client = await DatagramClient.open('127.0.0.1', server.port);
    await client.send('boom');
    expect((await client.request('hello', { timeoutMs: 500 })).toString()).toBe('re:hello');
    expect(server.metrics.errors).toBe(1);
    expect(server.metrics.datagramsIn).toBe(2);
    await client.close();
  });

  it('drops datagrams over maxDatagramBytes before the handler sees them', async () => {
    const seen: number[] = [];
    const server = await DatagramServer.bind({ port: 0, maxDatagramBytes: 100, onMessage: (m) => void seen.push(m.length) });
    servers.push(server);
    const socket = dgram.createSocket('udp4');
    socket.send(Buffer.alloc(101), server.port, '127.0.0.1');
    socket.send(Buffer.alloc(100), server.port, '127.0.0.1');
    socket.send(Buffer.alloc(0), server.port, '127.0.0.1');
    await waitFor(() => seen.length === 2);
    expect(seen).toEqual([100, 0]);
    socket.close();
  });

  it('binds IPv6 loopback', async () => {
    let server: DatagramServer;
    try {
      server = await DatagramServer.bind({ host: '::1', port: 0, onMessage: (m, p, s) => s.reply(p, m) });
    } catch {
      return; // no IPv6 on this machine
    }
    servers.push(server);
    const socket = dgram.createSocket('udp6');
    socket.send('six', server.port, '::1');
    const [reply] = (await once(socket, 'message')) as [Buffer];
    expect(reply.toString()).toBe('six');
    socket.close();
  });

  it('a client gets a clear error when nobody answers', async () => {
    // A socket that reads and never answers (a closed port fails at once: test/core/udp-port-closed.test.ts).
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    const client = await DatagramClient.open('127.0.0.1', silent.address().port);
    await expect(client.request('anyone?', { timeoutMs: 50, attempts: 2 })).rejects.toThrow(/no answer .* after 2 tries/);
    await client.close();
    silent.close();
  });
});

describe('RateLimiter', () => {
  it('allows a burst, then the sustained rate, per key', () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 5, now: () => now });
    const allowed = Array.from({ length: 8 }, () => limiter.take('a')).filter(Boolean).length;
    expect(allowed).toBe(5);
    expect(limiter.take('b')).toBe(true); // another peer is unaffected
    now += 100; // 0.1 s refills one token
    expect(limiter.take('a')).toBe(true);
    expect(limiter.take('a')).toBe(false);
  });

  it('counts takes made elsewhere (spent), older ones included, without refilling backwards', () => {
    let now = 1_000;
    const limiter = new RateLimiter({ ratePerSecond: 10, burst: 5, now: () => now });
    for (let i = 0; i < 3; i++) limiter.spent('a', now);
    expect(limiter.take('a')).toBe(true);
    expect(limiter.take('a')).toBe(true);
    expect(limiter.take('a')).toBe(false); // 3 spent elsewhere + 2 here = the burst
    limiter.spent('a', now - 50); // older than the last take here: no refill from it
    now += 100; // one token back, which the late take already used
    expect(limiter.take('a')).toBe(false);
    now += 100;
    expect(limiter.take('a')).toBe(true);
  });

  it('stays bounded under a flood of distinct keys', () => {
    let now = 0;
    const limiter = new RateLimiter({ ratePerSecond: 1, burst: 1, maxKeys: 100, now: () => now });
    for (let i = 0; i < 10_000; i++) {
      limiter.take(`10.0.${i >> 8}.${i & 255}`);
      now += 1;
    }
    expect(limiter.size).toBeLessThanOrEqual(100);
  });
});
