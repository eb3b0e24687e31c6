import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import { UsageError } from '../../src/core/errors.js';
import { LossyUdpRelay, mulberry32, type LossyUdpRelayOptions } from '../../src/testing/lossy-udp-relay.js';

const sockets: Socket[] = [];
const relays: LossyUdpRelay[] = [];

afterEach(async () => {
  await Promise.all(relays.splice(0).map((relay) => relay.close()));
  await Promise.all(sockets.splice(0).map((socket) => new Promise<void>((resolve) => {
    try {
      socket.close(() => resolve());
    } catch {
      resolve(); // closed by the test already
    }
  })));
});

async function openSocket(host = '127.0.0.1'): Promise<Socket> {
  const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
  sockets.push(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, host, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  return socket;
}

function portOf(socket: Socket): number {
  return socket.address().port;
}

/** A server that sends every datagram straight back to its sender. */
async function echoServer(host = '127.0.0.1'): Promise<Socket> {
  const server = await openSocket(host);
  server.on('message', (payload, from) => server.send(payload, from.port, from.address));
  return server;
}

/** A server that only records what it receives, in arrival order. */
async function recordingServer(): Promise<{ socket: Socket; received: string[] }> {
  const socket = await openSocket();
  const received: string[] = [];
  socket.on('message', (payload) => received.push(payload.toString()));
  return { socket, received };
}

async function startRelay(options: LossyUdpRelayOptions): Promise<LossyUdpRelay> {
  const relay = await LossyUdpRelay.start(options);
  relays.push(relay);
  return relay;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor(condition: () => boolean, what: string, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

function sendTo(socket: Socket, relay: LossyUdpRelay, payload: string): void {
  socket.send(payload, relay.address.port, relay.address.host);
}

function range(count: number): string[] {
  return Array.from({ length: count }, (_, index) => String(index));
}

/**
 * Sends `count` numbered datagrams through the relay to an echo server, keeping at most `window`
 * of them unanswered so no socket buffer overflows (real loss would spoil the checks), and returns
 * the echoes in arrival order once `expected` of them have come back.
 */
async function echoThrough(relay: LossyUdpRelay, count: number, expected: number, window = 32): Promise<string[]> {
  const client = await openSocket();
  const received: string[] = [];
  let next = 0;
  const pump = (): void => {
    while (next < count && next - received.length < window) sendTo(client, relay, String(next++));
  };
  client.on('message', (payload) => {
    received.push(payload.toString());
    pump();
  });
  pump();
  await waitFor(() => received.length >= expected, `${expected} echoes (got ${received.length})`);
  return received;
}

/**
 * Sends `count` numbered datagrams to a recording server through a relay that impairs only the
 * way to the server, in lock-step batches: each batch is sent once the previous one has been
 * either delivered or dropped. Returns what the server received.
 */
async function sendPaced(options: Omit<LossyUdpRelayOptions, 'target'>, count: number): Promise<{ relay: LossyUdpRelay; received: string[] }> {
  const server = await recordingServer();
  const relay = await startRelay({ ...options, target: { host: '127.0.0.1', port: portOf(server.socket) }, directions: 'to-server' });
  const client = await openSocket();
  for (let sent = 0; sent < count;) {
    const batchEnd = Math.min(count, sent + 20);
    while (sent < batchEnd) sendTo(client, relay, String(sent++));
    await waitFor(() => server.received.length + relay.stats.dropped === sent, `batch up to ${sent}`);
  }
  return { relay, received: server.received };
}

function hasInversion(values: string[]): boolean {
  return values.some((value, index) => index > 0 && Number(value) < Number(values[index - 1]));
}

describe('LossyUdpRelay', () => {
  it('relays 1,000 datagrams unchanged and in order when every impairment is 0', async () => {
    const server = await echoServer();
    const relay = await startRelay({ target: { host: '127.0.0.1', port: portOf(server) } });
    expect(relay.address.host).toBe('127.0.0.1');
    expect(relay.address.port).toBeGreaterThan(0);

    const received = await echoThrough(relay, 1000, 1000);

    expect(received).toEqual(range(1000));
    expect(relay.stats).toMatchObject({ toServer: 1000, toClient: 1000, forwarded: 2000, dropped: 0, duplicated: 0, reordered: 0, errors: 0 });
    expect(relay.sessionCount).toBe(1);
  });

  it('delivers nothing with dropPercent 100', async () => {
    const server = await recordingServer();
    const relay = await startRelay({ target: { host: '127.0.0.1', port: portOf(server.socket) }, dropPercent: 100 });
    const client = await openSocket();
    for (let index = 0; index < 20; index += 1) sendTo(client, relay, String(index));

    await waitFor(() => relay.stats.dropped === 20, 'the relay to see every datagram');
    await sleep(50);

    expect(server.received).toEqual([]);
    expect(relay.stats).toMatchObject({ toServer: 20, dropped: 20, forwarded: 0 });
  });

  it('drops about 30% with dropPercent 30, and the same seed replays the same pattern', async () => {
    const first = await sendPaced({ dropPercent: 30, seed: 12345 }, 1000);
    const replay = await sendPaced({ dropPercent: 30, seed: 12345 }, 1000);
    const other = await sendPaced({ dropPercent: 30, seed: 777 }, 1000);

    for (const run of [first, replay, other]) {
      // Binomial(1000, 0.3): mean 300, standard deviation about 14.5; this is ±4 deviations.
      expect(run.relay.stats.dropped).toBeGreaterThanOrEqual(240);
      expect(run.relay.stats.dropped).toBeLessThanOrEqual(360);
      expect(run.received.length + run.relay.stats.dropped).toBe(1000);
      expect(run.received).toEqual([...run.received].sort((a, b) => Number(a) - Number(b)));
    }
    expect(replay.relay.seed).toBe(12345);
    expect(replay.received).toEqual(first.received);
    expect(other.received).not.toEqual(first.received);
  });

  it('chooses a random seed when none is given and reports it', async () => {
    const server = await echoServer();
    const relay = await startRelay({ target: { host: '127.0.0.1', port: portOf(server) } });
    expect(Number.isInteger(relay.seed)).toBe(true);
    expect(relay.seed).toBeGreaterThanOrEqual(0);
    expect(relay.seed).toBeLessThanOrEqual(0xffff_ffff);
  });

  it('sends every datagram twice with duplicatePercent 100', async () => {
    const server = await recordingServer();
    const received = server.received;
    const relay = await startRelay({ target: { host: '127.0.0.1', port: portOf(server.socket) }, duplicatePercent: 100 });
    const client = await openSocket();
    for (let index = 0; index < 10; index += 1) sendTo(client, relay, String(index));

    await waitFor(() => received.length === 20, '20 copies');
    await sleep(30);

    expect(received).toHaveLength(20);
    expect([...received].sort()).toEqual(range(10).flatMap((value) => [value, value]).sort());
    expect(relay.stats).toMatchObject({ toServer: 10, duplicated: 10, forwarded: 20, dropped: 0 });
  });

  it('reorders without losing anything when dropPercent is 0', async () => {
    const server = await echoServer();
    const relay = await startRelay({ target: { host: '127.0.0.1', port: portOf(server) }, reorderPercent: 25, seed: 42 });

    const received = await echoThrough(relay, 300, 300, 16);
    await sleep(80); // longer than reorderHoldMs: anything still held has been released

    expect(received).toHaveLength(300);
    expect([...received].sort((a, b) => Number(a) - Number(b))).toEqual(range(300));
    expect(hasInversion(received)).toBe(true);
    expect(relay.stats.reordered).toBeGreaterThan(0);
    expect(relay.stats.dropped).toBe(0);
  });

  it('releases a held-back datagram after reorderHoldMs when no other follows', async () => {
    const server = await echoServer();
    const relay = await startRelay({
      target: { host: '127.0.0.1', port: portOf(server) }, reorderPercent: 100, reorderHoldMs: 20, directions: 'to-server',
    });
    const started = Date.now();
    const received = await echoThrough(relay, 1, 1);

    expect(received).toEqual(['0']);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    expect(relay.stats.reordered).toBe(0); // held, but nothing overtook it
  });

  it('delays every datagram by delayMs in each impaired direction', async () => {
    const server = await echoServer();
    const relay = await startRelay({ target: { host: '127.0.0.1', port: portOf(server) }, delayMs: { min: 40, max: 60 } });
    const started = Date.now();
    await echoThrough(relay, 1, 1);
    expect(Date.now() - started).toBeGreaterThanOrEqual(78);
  });

  it('follows a server that answers from a new port, TFTP style', async () => {
    // The "well-known" socket answers each request from a fresh socket (its transfer ID).
    const wellKnown = await openSocket();
    const lateOnWellKnown: string[] = [];
    let transfer: Socket | undefined;
    const onTransfer: string[] = [];
    wellKnown.on('message', (payload, from: RemoteInfo) => {
      if (payload.toString() !== 'RRQ') {
        lateOnWellKnown.push(payload.toString());
        return;
      }
      void openSocket().then((socket) => {
        transfer = socket;
        socket.on('message', (ack, peer) => {
          onTransfer.push(ack.toString());
          socket.send(`DATA after ${ack.toString()}`, peer.port, peer.address);
        });
        socket.send('DATA 1', from.port, from.address);
      });
    });
    const relay = await startRelay({ target: { host: '127.0.0.1', port: portOf(wellKnown) } });
    const client = await openSocket();
    const replies: { text: string; port: number }[] = [];
    client.on('message', (payload, from) => replies.push({ text: payload.toString(), port: from.port }));

    sendTo(client, relay, 'RRQ');
    await waitFor(() => replies.length === 1, 'the first reply');
    expect(replies[0]).toEqual({ text: 'DATA 1', port: relay.address.port });
    expect(transfer).toBeDefined();
    expect(portOf(transfer!)).not.toBe(portOf(wellKnown));

    sendTo(client, relay, 'ACK 1');
    await waitFor(() => replies.length === 2, 'the second reply');
    sendTo(client, relay, 'ACK 2');
    await waitFor(() => replies.length === 3, 'the third reply');

    expect(onTransfer).toEqual(['ACK 1', 'ACK 2']);
    expect(lateOnWellKnown).toEqual([]);
    expect(replies.map((reply) => reply.text)).toEqual(['DATA 1', 'DATA after ACK 1', 'DATA after ACK 2']);
    expect(replies.every((reply) => reply.port === relay.address.port)).toBe(true);
  });

  it('gives each client its own upstream port and routes replies back to the right client', async () => {
    const server = await openSocket();
    const peers = new Set<number>();
    server.on('message', (payload, from) => {
      peers.add(from.port);
      server.send(`${payload.toString()} via ${from.port}`, from.port, from.address);
    });
    const relay = await startRelay({ target: { host: '127.0.0.1', port: portOf(server) } });
    const clients = await Promise.all([openSocket(), openSocket(), openSocket()]);
    const replies = clients.map(() => [] as string[]);
    clients.forEach((client, index) => client.on('message', (payload) => replies[index]!.push(payload.toString())));

    clients.forEach((client, index) => sendTo(client, relay, `client ${index}`));
    await waitFor(() => replies.every((list) => list.length === 1), 'one reply per client');

    expect(peers.size).toBe(3);
    expect(relay.sessionCount).toBe(3);
    replies.forEach((list, index) => expect(list[0]).toMatch(new RegExp(`^client ${index} via \\d+$`)));
  });

  it('closes idle sessions', async () => {
    const server = await echoServer();
    const relay = await startRelay({ target: { host: '127.0.0.1', port: portOf(server) }, idleTimeoutMs: 100 });
    await echoThrough(relay, 1, 1);
    expect(relay.sessionCount).toBe(1);
    await waitFor(() => relay.sessionCount === 0, 'the idle session to close', 2000);
  });

  it('caps the number of sessions', async () => {
    const server = await echoServer();
    const relay = await startRelay({ target: { host: '127.0.0.1', port: portOf(server) }, maxSessions: 1 });
    await echoThrough(relay, 1, 1);
    const late = await openSocket();
    const lateReplies: string[] = [];
    late.on('message', (payload) => lateReplies.push(payload.toString()));

    sendTo(late, relay, 'one too many');
    await waitFor(() => relay.stats.overflowed === 1, 'the refused datagram');
    await sleep(30);

    expect(lateReplies).toEqual([]);
    expect(relay.sessionCount).toBe(1);
  });

  it('caps the number of delayed datagrams', async () => {
    const server = await recordingServer();
    const relay = await startRelay({ target: { host: '127.0.0.1', port: portOf(server.socket) }, delayMs: 20, maxPendingDatagrams: 3 });
    const client = await openSocket();
    for (let index = 0; index < 5; index += 1) sendTo(client, relay, String(index));

    await waitFor(() => server.received.length === 3 && relay.stats.overflowed === 2, '3 delivered, 2 refused');
  });

  it('rejects impossible options with a UsageError', async () => {
    const target = { host: '127.0.0.1', port: 9 };
    await expect(LossyUdpRelay.start({ target, dropPercent: 101 })).rejects.toBeInstanceOf(UsageError);
    await expect(LossyUdpRelay.start({ target, duplicatePercent: -1 })).rejects.toThrow(/duplicatePercent/);
    await expect(LossyUdpRelay.start({ target, reorderPercent: Number.NaN })).rejects.toThrow(/reorderPercent/);
    await expect(LossyUdpRelay.start({ target, delayMs: { min: 10, max: 5 } })).rejects.toThrow(/delayMs/);
    await expect(LossyUdpRelay.start({ target: { host: '127.0.0.1', port: 0 } })).rejects.toThrow(/target.port/);
    await expect(LossyUdpRelay.start({ target, seed: 1.5 })).rejects.toThrow(/seed/);
    await expect(LossyUdpRelay.start({ target, maxSessions: 0 })).rejects.toThrow(/maxSessions/);
  });

  it('close() closes every socket and clears every timer, and can be called twice', async () => {
    const server = await echoServer();
    const client = await openSocket();
    const count = (kind: string): number => process.getActiveResourcesInfo().filter((name) => name === kind).length;
    await sleep(5); // let handles closed by earlier tests be released
    const baseline = { sockets: count('UDPWrap'), timers: count('Timeout') };

    const relay = await LossyUdpRelay.start({
      target: { host: '127.0.0.1', port: portOf(server) }, delayMs: 5000, reorderPercent: 50, seed: 1, idleTimeoutMs: 60_000,
    });
    for (let index = 0; index < 10; index += 1) sendTo(client, relay, String(index));
    await waitFor(() => relay.stats.toServer === 10, 'the relay to take every datagram');
    expect(relay.sessionCount).toBe(1);
    expect(count('UDPWrap')).toBe(baseline.sockets + 2); // listening + one upstream socket
    expect(relay.stats.forwarded).toBe(0); // everything is still waiting on a delay timer
    expect(count('Timeout')).toBeGreaterThan(baseline.timers);

    await relay.close();
    await relay.close();

    expect(relay.sessionCount).toBe(0);
    expect(count('UDPWrap')).toBe(baseline.sockets);
    expect(count('Timeout')).toBe(baseline.timers);
  });

  it('relays over IPv6 loopback', async (context) => {
    let server: Socket;
    try {
      server = await echoServer('::1');
    } catch {
      context.skip('IPv6 loopback (::1) is not available on this machine');
      return;
    }
    const relay = await startRelay({ target: { host: '::1', port: portOf(server) }, listenHost: '::1' });
    expect(relay.address.host).toBe('::1');
    const client = await openSocket('::1');
    const replies: string[] = [];
    client.on('message', (payload) => replies.push(payload.toString()));
    sendTo(client, relay, 'hello six');
    await waitFor(() => replies.length === 1, 'the IPv6 echo');
    expect(replies).toEqual(['hello six']);
  });
});

describe('mulberry32', () => {
  it('is deterministic per seed and stays in [0, 1)', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffff_ffff }), (seed) => {
      const a = mulberry32(seed);
      const b = mulberry32(seed);
      for (let index = 0; index < 50; index += 1) {
        const value = a();
        expect(value).toBe(b());
        expect(value).toBeGreaterThanOrEqual(0);
        expect(value).toBeLessThan(1);
      }
    }));
  });
});
