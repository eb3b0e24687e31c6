import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceHost } from '../../../src/core/host.js';
import { silentLogger } from '../../../src/core/logger.js';
import { DiscoveryClient, discover } from '../../../src/services/discovery/client.js';
import { formatJsonAnnouncement, formatProbe, parseProbe } from '../../../src/services/discovery/protocol.js';
import { discoveryConfigSchema, discoveryService, type DiscoveryRunningService } from '../../../src/services/discovery/server.js';
import { echoConfigSchema, echoService } from '../../../src/services/echo/server.js';

const { version } = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
const hosts: ServiceHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop(200)));
});

/** A host running echo and discovery, as `wharf serve echo discovery` would. */
async function startHost(overrides: Record<string, unknown> = {}): Promise<{ port: number; echoPort: number; discovery: DiscoveryRunningService }> {
  const host = new ServiceHost({ logger: silentLogger(), dataDir: '/tmp' });
  hosts.push(host);
  const echo = await host.start(echoService, echoConfigSchema.parse({ port: 0 }));
  const discovery = (await host.start(discoveryService, discoveryConfigSchema.parse({ port: 0, ...overrides }))) as DiscoveryRunningService;
  return { port: discovery.addresses[0]!.port, echoPort: echo.addresses[0]!.port, discovery };
}

/**
 * Send datagrams from one socket and collect what comes back: until `expected` answers have come
 * (then `settleMs` more, to catch any extra), or `waitMs` passes.
 */
async function exchange(port: number, datagrams: Buffer[], options: { expected?: number; waitMs?: number; settleMs?: number } = {}): Promise<Buffer[]> {
  const { expected = 0, waitMs = expected > 0 ? 10_000 : 300, settleMs = 200 } = options;
  const socket = dgram.createSocket('udp4');
  const received: Buffer[] = [];
  let enough: () => void = () => undefined;
  const arrived = new Promise<void>((resolve) => (enough = resolve));
  socket.on('message', (message) => {
    received.push(message);
    if (received.length === expected) enough();
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  for (const datagram of datagrams) socket.send(datagram, port, '127.0.0.1');
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([arrived, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
  clearTimeout(timer);
  await new Promise((resolve) => setTimeout(resolve, settleMs));
  socket.close();
  return received;
}

describe('discovery service', () => {
  it('answers each probe of one DiscoveryClient, two at once included, each with its own answers', async () => {
    const { port } = await startHost({ name: 'twice' });
    const client = await DiscoveryClient.connect({ address: '127.0.0.1', port });
    try {
      const [first, second] = await Promise.all([client.find({ timeoutMs: 10_000, maxServers: 1 }), client.find({ timeoutMs: 10_000, maxServers: 1 })]);
      expect(first.map((server) => server.name)).toEqual(['twice']);
      expect(second.map((server) => server.name)).toEqual(['twice']);
      expect((await client.find({ timeoutMs: 10_000, maxServers: 1 }))[0]?.port).toBe(port);
    } finally {
      await client.close();
    }
  });

  it("lists the host's services to wharf's client, its own included", async () => {
    const { port, echoPort } = await startHost({ name: 'test-box' });
    const found = await discover({ address: '127.0.0.1', port, timeoutMs: 10_000, maxServers: 1 });
    expect(found).toEqual([
      {
        address: '127.0.0.1',
        port,
        name: 'test-box',
        version: expect.stringMatching(/^\d+\.\d+\.\d+/) as unknown as string,
        services: [
          { service: 'echo', url: `tcp://127.0.0.1:${echoPort}` },
          { service: 'echo', url: `udp://127.0.0.1:${echoPort}` },
          { service: 'discovery', url: `udp://127.0.0.1:${port}` },
        ],
      },
    ]);
  });

  it("answers the seed's Hi with one line of text, named after the host by default", async () => {
    const { port, echoPort } = await startHost();
    const [answer, ...more] = await exchange(port, [Buffer.from('Hi')], { expected: 1 });
    expect(more).toEqual([]);
    expect(answer!.toString()).toBe(`wharf ${version} on ${hostname()}: echo tcp 127.0.0.1:${echoPort}, echo udp 127.0.0.1:${echoPort}, discovery udp 127.0.0.1:${port}\n`);
  });

  it('stays silent for malformed probes, answers and oversized datagrams, and keeps serving', async () => {
    const { port, discovery } = await startHost();
    const silent = await exchange(port, [
      Buffer.from('WHARF-DISCOVER 9 abc\n'),
      Buffer.from('WHARF-DISCOVER 1 not/a/nonce\n'),
      Buffer.from('{"wharf":1}'),
      Buffer.from('wharf 0.1.0 on elsewhere: echo tcp 7\n'),
      Buffer.alloc(513, 0x41),
      Buffer.alloc(0),
    ]);
    expect(silent).toEqual([]);
    expect(discovery.stats.answered).toBe(0);
    expect(discovery.stats.ignored).toBeGreaterThanOrEqual(4); // the oversized one is dropped before the handler
    expect(await discover({ address: '127.0.0.1', port, timeoutMs: 10_000, maxServers: 1 })).toHaveLength(1);
  });

  it('rate-limits answers per address (an answer is larger than a probe)', async () => {
    const { port, discovery } = await startHost({ answersPerSecond: 0.001, answerBurst: 3 });
    const answers = await exchange(port, Array.from({ length: 20 }, (_, i) => formatProbe(`n${i}`)), { expected: 3, settleMs: 300 });
    expect(answers.length).toBe(3);
    expect(discovery.stats).toEqual({ answered: 3, ignored: 17 });
  });

  it("the client ignores garbage and other probes' answers, and lists a server once", async () => {
    // A responder that answers each probe with noise, an answer to someone else, and ours twice.
    const fake = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => fake.bind(0, '127.0.0.1', resolve));
    fake.on('message', (message, from) => {
      const nonce = parseProbe(message)?.kind === 'wharf' ? (parseProbe(message) as { nonce: string }).nonce : 'none';
      const answer = (n: string) => formatJsonAnnouncement({ wharf: 1, version: '9.9.9', name: 'fake', nonce: n, services: [{ service: 'x', transport: 'tcp', address: '*', port: 1234 }] });
      for (const reply of [Buffer.from('garbage'), answer('someone-else'), answer(nonce), answer(nonce)]) fake.send(reply, from.port, from.address);
    });
    try {
      const found = await discover({ address: '127.0.0.1', port: fake.address().port, timeoutMs: 2_000 });
      expect(found).toEqual([{ address: '127.0.0.1', port: fake.address().port, name: 'fake', version: '9.9.9', services: [{ service: 'x', url: 'tcp://127.0.0.1:1234' }] }]);
    } finally {
      fake.close();
    }
  });

  it('finds nobody where nobody listens', async () => {
    const { port } = await startHost();
    expect(await discover({ address: '127.0.0.1', port: port === 65535 ? 65534 : port + 1, timeoutMs: 200 })).toEqual([]);
  });
});
