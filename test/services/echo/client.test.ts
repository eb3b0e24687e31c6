import net from 'node:net';
import { once } from 'node:events';
import { afterEach, describe, expect, it } from 'vitest';
import { EchoClient } from '../../../src/services/echo/client.js';

/** The seeds' servers answer without a line end (`ok`, `Thanks`) and may greet first. */
const servers: net.Server[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

async function serve(onConnection: (socket: net.Socket) => void): Promise<number> {
  const server = net.createServer(onConnection);
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

describe('EchoClient framing', () => {
  it('raw: sends the text alone and takes one read as the answer', async () => {
    const received: string[] = [];
    const port = await serve((socket) => socket.on('data', (d) => (received.push(d.toString()), socket.write('ok'))));
    const client = await EchoClient.connect({ port, framing: 'raw' });
    expect(await client.send('hello')).toBe('ok');
    expect(await client.send('你好')).toBe('ok');
    client.close();
    expect(received.join('')).toBe('hello你好');
  });

  it('raw: receive() reads the greeting; what came unasked is the next answer', async () => {
    const port = await serve((socket) => {
      socket.write('hello...');
      socket.on('data', (d) => socket.write(`response:${d.toString()}`));
    });
    const client = await EchoClient.connect({ port, framing: 'raw' });
    expect(await client.receive()).toBe('hello...');
    expect(await client.send('ping')).toBe('response:ping');
    client.close();
  });

  it('line (default): an answer without a line end is no answer', async () => {
    const port = await serve((socket) => socket.on('data', () => socket.write('ok')));
    const client = await EchoClient.connect({ port, timeoutMs: 300 });
    await expect(client.send('hello')).rejects.toThrow(/no answer within 300 ms/);
  });
});
