import dgram from 'node:dgram';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { createEchoHandler, echoConfigSchema, echoService } from '../../../src/services/echo/server.js';
import { EchoClient, echoOverUdp } from '../../../src/services/echo/client.js';
import { ServiceHost } from '../../../src/core/host.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ProtocolHarness } from '../../../src/testing/protocol-harness.js';
import type { RunningService } from '../../../src/core/service.js';
import { closed, connect, readToEnd, readUntil } from '../../helpers/net.js';
import { canBindPrivileged, privilegedSkipReason, udpResponder } from '../../helpers/udp-source.js';

const hosts: ServiceHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop(200)));
});

async function startEcho(overrides: Record<string, unknown> = {}): Promise<{ service: RunningService; tcp: number; udp: number; host: ServiceHost }> {
  const host = new ServiceHost({ logger: silentLogger(), dataDir: '/tmp' });
  hosts.push(host);
  const service = await host.start(echoService, echoConfigSchema.parse({ port: 0, ...overrides }));
  const tcp = service.addresses.find((a) => a.transport === 'tcp')?.port ?? 0;
  const udp = service.addresses.find((a) => a.transport === 'udp')?.port ?? 0;
  return { service, tcp, udp, host };
}

async function udpExchange(port: number, payload: Buffer): Promise<Buffer> {
  const socket = dgram.createSocket('udp4');
  socket.send(payload, port, '127.0.0.1');
  const [message] = (await once(socket, 'message')) as [Buffer];
  socket.close();
  return message;
}

describe('echo service over TCP', () => {
  it('echoes every byte back, binary and multi-byte text included', async () => {
    const { tcp } = await startEcho();
    const socket = await connect(tcp);
    const payload = Buffer.concat([Buffer.from([0, 255, 10, 13, 0x23, 0x23]), Buffer.from('你好 🌊'), Buffer.alloc(200_000, 7)]);
    socket.write(payload);
    const back = await readUntil(socket, (r) => r.length >= payload.length);
    expect(back.equals(payload)).toBe(true);
    socket.destroy();
  });

  it('answers on the same port over UDP', async () => {
    const { tcp, udp } = await startEcho();
    expect(udp).toBe(tcp);
    expect((await udpExchange(udp, Buffer.from('ping 你好'))).toString()).toBe('ping 你好');
  });

  it('reply mode answers each seed-style message (no newline) with the fixed text, and ## ends the session', async () => {
    const { tcp } = await startEcho({ reply: 'Thanks' });
    const socket = await connect(tcp);
    socket.write('hello');
    expect((await readUntil(socket, (r) => r.length >= 6)).toString()).toBe('Thanks');
    const rest = readToEnd(socket);
    socket.write('##');
    expect((await rest).toString()).toBe('');
  });

  it('prefix mode answers 收到！ + the message over TCP and UDP', async () => {
    const { tcp, udp } = await startEcho({ prefix: '收到！' });
    const client = await EchoClient.connect({ port: tcp });
    expect(await client.send('你好')).toBe('收到！你好');
    client.close();
    expect((await udpExchange(udp, Buffer.from('hi'))).toString()).toBe('收到！hi');
  });

  it('line framing answers once per line however TCP splits or glues them', async () => {
    const { tcp } = await startEcho({ reply: 'ok', framing: 'line' });
    const socket = await connect(tcp);
    // Three lines glued into one write, then a line dribbled one byte at a time.
    socket.write('a\nb\r\nc\n');
    for (const byte of Buffer.from('多字节\n')) socket.write(Buffer.from([byte]));
    expect((await readUntil(socket, (r) => r.toString() === 'ok\nok\r\nok\nok\n')).toString()).toBe('ok\nok\r\nok\nok\n');
    socket.destroy();
  });

  it('closes a connection whose line is over the limit, and keeps serving others', async () => {
    const { tcp } = await startEcho({ reply: 'ok', framing: 'line', maxLineBytes: 1024 });
    const bad = await connect(tcp);
    bad.on('error', () => {});
    bad.write(Buffer.alloc(4096, 0x61));
    await closed(bad);
    const good = await EchoClient.connect({ port: tcp });
    expect(await good.send('fine')).toBe('ok');
    good.close();
  });

  it('stops gracefully: open sessions are ended and the port is released', async () => {
    const { tcp, host } = await startEcho();
    const socket = await connect(tcp);
    const ended = readToEnd(socket);
    await host.stop(1_000);
    await ended;
    await expect(connect(tcp)).rejects.toThrow();
  });

  it('serves each connection in its own process with the fork model', async () => {
    const { tcp } = await startEcho({ model: 'fork', prefix: '> ' });
    const clients = await Promise.all([1, 2, 3].map(() => EchoClient.connect({ port: tcp, timeoutMs: 15_000 })));
    const answers = await Promise.all(clients.map((c, i) => c.send(`client ${i}`)));
    expect(answers).toEqual(['> client 0', '> client 1', '> client 2']);
    for (const c of clients) c.close();
  }, 30_000);
});

describe('echo service over UDP', () => {
  it('drops datagrams over the size limit but stays up', async () => {
    const { udp } = await startEcho({ tcp: false });
    const socket = dgram.createSocket('udp4');
    socket.send(Buffer.alloc(65_507, 1), udp, '127.0.0.1');
    const [big] = (await once(socket, 'message')) as [Buffer];
    expect(big.length).toBe(65_507);
    socket.send(Buffer.alloc(0), udp, '127.0.0.1');
    const [empty] = (await once(socket, 'message')) as [Buffer];
    expect(empty.length).toBe(0);
    socket.close();
    expect(await echoOverUdp('still here', { port: udp })).toBe('still here');
  });
});

describe('echo handler in memory', () => {
  it('answers line by line when bytes arrive one at a time', () => {
    const harness = new ProtocolHarness(createEchoHandler({ mode: { kind: 'prefix', text: '收到！' }, framing: 'line', maxLineBytes: 100 }));
    harness.receiveBytewise('第一\n第二\n');
    expect(harness.take()).toBe('收到！第一\n收到！第二\n');
  });

  it('raw framing treats each chunk as one message, as the seeds do', () => {
    const harness = new ProtocolHarness(createEchoHandler({ mode: { kind: 'reply', text: 'Thanks' }, framing: 'raw', maxLineBytes: 100 }));
    harness.receive('one').receive('two\n');
    expect(harness.take()).toBe('ThanksThanks\n');
    harness.receive('##');
    expect(harness.connection.ended).toBe(true);
  });

  it('a too-long line gets an error line and ends that connection', () => {
    const harness = new ProtocolHarness(createEchoHandler({ mode: { kind: 'reply', text: 'x' }, framing: 'line', maxLineBytes: 8 }));
    harness.receive('ok\n').receive('0123456789abcdef');
    expect(harness.take()).toMatch(/^x\nerror: .*8/);
    expect(harness.connection.ended).toBe(true);
  });

  it('a last line cut off by EOF is reported, not answered', () => {
    const harness = new ProtocolHarness(createEchoHandler({ mode: { kind: 'reply', text: 'x' }, framing: 'line', maxLineBytes: 8 }));
    harness.receive('half').receiveEnd();
    expect(harness.take()).toMatch(/^error: /);
    expect(harness.connection.ended).toBe(true);
  });
});

describe('echo over UDP, against reflection', () => {
  // The RFC 862 echo on port 7 that a forged datagram would pit against wharf's echo; binding it needs root.
  it.skipIf(!canBindPrivileged)(`does not answer another echo service: one datagram cannot start an endless loop${canBindPrivileged ? '' : ` (skipped: ${privilegedSkipReason})`}`, async () => {
    const { udp, service, host } = await startEcho({ tcp: false });
    const otherEcho = await udpResponder(7, { echo: true });
    try {
      // What a forged datagram (source 127.x.y.z:7) sets off: the other echo's datagram reaches wharf.
      otherEcho.socket.send('loop?', udp, '127.0.0.1');
      await new Promise((resolve) => setTimeout(resolve, 1_000));
      expect(otherEcho.received).toBe(0);
      expect(host.metrics.for('echo').datagramsOut).toBe(0);
      expect(host.metrics.for('echo').datagramsRefused).toBe(1);
      expect(service.addresses).toHaveLength(1);
    } finally {
      await otherEcho.close();
    }
  });

  it('still answers an ordinary client on an ephemeral port', async () => {
    const { udp, host } = await startEcho({ tcp: false });
    const client = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => client.bind(0, '127.0.0.1', resolve));
    client.send('hello', udp, '127.0.0.1');
    const [answer] = (await once(client, 'message')) as [Buffer];
    expect(answer.toString()).toBe('hello');
    client.close();
    expect(host.metrics.for('echo').datagramsRefused).toBe(0);
  });
});
