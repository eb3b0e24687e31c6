import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ServiceHost } from '../../../src/core/host.js';
import { silentLogger } from '../../../src/core/logger.js';
import { execConfigSchema, execService } from '../../../src/services/exec/server.js';
import { startExec, TEST_COMMANDS, type ExecFixture } from './support.js';

// The seed's own client (seed 002 §3) against this front end: test/seeds/seed-002.test.ts.

/** One seed exchange by hand: the line, `Ready|N`, `Start`, the N bytes. */
async function seedExchange(port: number, line: string): Promise<{ ready: string; output: string }> {
  const socket = net.connect({ host: '127.0.0.1', port });
  const received: Buffer[] = [];
  let wake: () => void = () => {};
  socket.on('data', (chunk: Buffer) => {
    received.push(chunk);
    wake();
  });
  const next = () => new Promise<string>((done) => {
    wake = () => done(Buffer.concat(received.splice(0)).toString());
    socket.on('close', () => done(Buffer.concat(received.splice(0)).toString()));
  });
  socket.write(line);
  const ready = await next();
  if (!ready.startsWith('Ready')) {
    socket.destroy();
    return { ready, output: '' };
  }
  socket.write('Start');
  const output = await next();
  socket.destroy();
  return { ready, output };
}

let fixture: ExecFixture;
beforeAll(async () => {
  fixture = await startExec({ seedProtocol: true });
});
afterAll(() => fixture.stop());

describe('exec: the seed protocol (seed 002 §3)', () => {
  it('splits the line as argv, never a shell', async () => {
    expect(await seedExchange(fixture.port, 'say $(id);echo x')).toEqual({ ready: 'Ready|13', output: '$(id);echo|x|' });
    expect(await seedExchange(fixture.port, 'say a|b ;')).toEqual({ ready: 'Ready|9', output: 'cmd error' });
    expect(await seedExchange(fixture.port, 'say `id` w')).toEqual({ ready: 'Ready|7', output: '`id`|w|' });
  });

  it('runs only commands open to it: a login-only command is `cmd error`', async () => {
    expect(await seedExchange(fixture.port, 'forever')).toEqual({ ready: 'Ready|9', output: 'cmd error' });
  });

  it('refuses a peer whose address is not allowed', async () => {
    const host = new ServiceHost({ logger: silentLogger(), dataDir: '/tmp', resources: { store: fixture.store } });
    try {
      const config = execConfigSchema.parse({ port: 0, commands: TEST_COMMANDS, seedProtocol: true, seedFrom: ['192.0.2.1'] });
      const service = await host.start(execService, config);
      expect(await seedExchange(service.addresses[0]!.port, 'hello')).toEqual({ ready: 'cmd error', output: '' });
    } finally {
      await host.stop(500);
    }
  });

  it('is off unless asked for: the seed client gets nothing', async () => {
    const host = new ServiceHost({ logger: silentLogger(), dataDir: '/tmp', resources: { store: fixture.store } });
    try {
      const service = await host.start(execService, execConfigSchema.parse({ port: 0, commands: TEST_COMMANDS }));
      expect(await seedExchange(service.addresses[0]!.port, 'hello')).toEqual({ ready: '', output: '' });
    } finally {
      await host.stop(500);
    }
  });
});

describe('exec: refuses to start unsafe', () => {
  const start = (config: Record<string, unknown>) => {
    const host = new ServiceHost({ logger: silentLogger(), dataDir: '/tmp', resources: { store: fixture.store } });
    return host.start(execService, execConfigSchema.parse({ port: 0, ...config })).finally(() => host.stop(0));
  };
  it('without commands', async () => {
    await expect(start({})).rejects.toThrow(/no commands configured/);
  });
  it('on a non-loopback address without TLS or --insecure', async () => {
    await expect(start({ commands: TEST_COMMANDS, host: '0.0.0.0' })).rejects.toThrow(/clear text/);
  });
  it('with a bad template', async () => {
    await expect(start({ commands: { bad: ['tail', '{n:int}'] } })).rejects.toThrow(/needs its range/);
  });
});
