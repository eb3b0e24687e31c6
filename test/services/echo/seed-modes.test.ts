import dgram from 'node:dgram';
import { once } from 'node:events';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { ServiceHost } from '../../../src/core/host.js';
import { silentLogger } from '../../../src/core/logger.js';
import { ctime, printableMessage } from '../../../src/services/echo/protocol.js';
import { echoConfigSchema, echoService, startEcho } from '../../../src/services/echo/server.js';
import { closed, connect, readToEnd, readUntil, waitFor } from '../../helpers/net.js';

const hosts: ServiceHost[] = [];
afterEach(async () => {
  await Promise.all(hosts.splice(0).map((h) => h.stop(200)));
});

interface Started {
  port: number;
  printed: () => string;
  console: PassThrough;
}

async function start(overrides: Record<string, unknown>): Promise<Started> {
  const host = new ServiceHost({ logger: silentLogger(), dataDir: '/tmp' });
  hosts.push(host);
  const printTo = new PassThrough();
  let printed = '';
  printTo.on('data', (d: Buffer) => (printed += d.toString('utf8')));
  const consoleInput = new PassThrough();
  const definition = { ...echoService, start: (ctx: Parameters<typeof startEcho>[0], config: Parameters<typeof startEcho>[1]) => startEcho(ctx, config, { printTo, consoleInput }) };
  const service = await host.start(definition, echoConfigSchema.parse({ port: 0, ...overrides }));
  return { port: service.addresses[0]!.port, printed: () => printed, console: consoleInput };
}

describe('echo as the seeds run it', () => {
  it('greets each TCP client before reading anything (seed 002, seed 003)', async () => {
    const { port } = await start({ greeting: 'Welcome to the server.Tpye something and hit enter\n', prefix: '收到！', udp: false });
    const socket = await connect(port);
    const greeting = await readUntil(socket, (r) => r.includes(0x0a));
    expect(greeting.toString('utf8')).toBe('Welcome to the server.Tpye something and hit enter\n');
    socket.write('hehe\n');
    expect((await readUntil(socket, (r) => r.length >= Buffer.byteLength('收到！hehe\n'))).toString('utf8')).toBe('收到！hehe\n');
    socket.destroy();
  });

  it('greets in pure echo mode too, then echoes', async () => {
    const { port } = await start({ greeting: 'hello...', udp: false });
    const socket = await connect(port);
    expect((await readUntil(socket, (r) => r.length >= 8)).toString()).toBe('hello...');
    socket.write('ping');
    expect((await readUntil(socket, (r) => r.length >= 4)).toString()).toBe('ping');
    socket.destroy();
  });

  it('--once: one answer, then the server closes (seed 000 §2)', async () => {
    const { port } = await start({ once: true, reply: 'Thanks', udp: false });
    const socket = await connect(port);
    socket.write('hello');
    expect((await readToEnd(socket)).toString()).toBe('Thanks');
    const echo = await start({ once: true, udp: false });
    const second = await connect(echo.port);
    second.write('only this');
    expect((await readToEnd(second)).toString()).toBe('only this');
  });

  it("--print from: each message with its sender, seed 000's `From ('127.0.0.1', 5000) : text`, over TCP and UDP", async () => {
    const { port, printed } = await start({ print: 'from' });
    const socket = await connect(port);
    socket.write('你好 tcp\n');
    await readUntil(socket, (r) => r.length >= Buffer.byteLength('你好 tcp\n'));
    const udp = dgram.createSocket('udp4');
    udp.send('udp text', port, '127.0.0.1');
    await once(udp, 'message');
    expect(printed()).toBe(`From ('127.0.0.1', ${socket.localPort}) : 你好 tcp\nFrom ('127.0.0.1', ${udp.address().port}) : udp text\n`);
    udp.close();
    socket.destroy();
  });

  it("--print ctime: seed 004's 【ctime】ip:msg", async () => {
    const { port, printed } = await start({ print: 'ctime', tcp: false });
    const udp = dgram.createSocket('udp4');
    udp.send('Hi', port, '127.0.0.1');
    await once(udp, 'message');
    udp.close();
    expect(printed()).toMatch(/^【\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}】127\.0\.0\.1:Hi\n$/);
    expect(ctime(new Date(2026, 11, 6, 7, 3, 9))).toBe('Sun Dec  6 07:03:09 2026');
  });

  it("shows a peer's control characters escaped, never raw on the operator's terminal", () => {
    expect(printableMessage(Buffer.from('a\u001b]0;pwned\u0007b\r\n'))).toBe('a\\x1b]0;pwned\\x07b');
    expect(printableMessage(Buffer.from('x\u202ey'))).toBe('x\\u202ey');
  });

  it('--reply-from-console: each message is shown with a prompt, the typed line is its answer, in arrival order', async () => {
    const { port, printed, console } = await start({ replyFromConsole: true, udp: false });
    const first = await connect(port);
    first.write('question one');
    await waitFor(() => printed().includes('响应数据 >>> '));
    const second = await connect(port);
    second.write('question two');
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(printed()).toBe(`From ('127.0.0.1', ${first.localPort}) : question one\n响应数据 >>> `);
    console.write('answer one\n');
    expect((await readUntil(first, (r) => r.length >= 10)).toString()).toBe('answer one');
    await waitFor(() => printed().includes('question two'));
    console.write('答案二\n');
    expect((await readUntil(second, (r) => r.length >= Buffer.byteLength('答案二'))).toString()).toBe('答案二');
    first.destroy();
    second.destroy();
  });

  it('--reply-from-console skips the messages of clients that left before their turn', async () => {
    const { port, printed, console } = await start({ replyFromConsole: true, udp: false });
    const first = await connect(port);
    first.write('one');
    await waitFor(() => printed().includes('one'));
    const gone = await connect(port);
    gone.write('lost');
    await new Promise((resolve) => setTimeout(resolve, 30));
    gone.destroy();
    const third = await connect(port);
    third.write('three');
    await new Promise((resolve) => setTimeout(resolve, 30));
    console.write('to one\n');
    await waitFor(() => printed().includes('three'));
    expect(printed()).not.toContain('lost');
    console.write('to three\n');
    expect((await readUntil(third, (r) => r.length >= 8)).toString()).toBe('to three');
    first.destroy();
    third.destroy();
  });

  it('refuses combinations that cannot work', () => {
    expect(echoConfigSchema.safeParse({ replyFromConsole: true, reply: 'x' }).success).toBe(false);
    expect(echoConfigSchema.safeParse({ replyFromConsole: true, model: 'fork' }).success).toBe(false);
  });

  it('a client that sends ## is ended in the console mode, as in the reply modes', async () => {
    const { port } = await start({ replyFromConsole: true, udp: false });
    const socket = await connect(port);
    socket.write('##');
    await closed(socket);
  });
});
