import dgram from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { DatagramClient } from '../../src/core/client.js';
import { echoOverUdp } from '../../src/services/echo/client.js';
import { DiaryClient } from '../../src/services/diary/client.js';
import { TftpClient } from '../../src/services/tftp/client.js';
import { Writable } from 'node:stream';
import { runWharf } from '../helpers/cli.js';

/** A UDP port on 127.0.0.1 that nothing listens on (bound, read back, closed). */
async function closedUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  const { port } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return port;
}

/** How long `run` takes to reject, and with what. */
async function failure(run: () => Promise<unknown>): Promise<{ ms: number; error: Error }> {
  const started = performance.now();
  try {
    await run();
  } catch (error) {
    return { ms: performance.now() - started, error: error as Error };
  }
  throw new Error('it did not fail');
}

describe('UDP clients when the kernel reports the port closed (ICMP port unreachable)', () => {
  it('a request fails at once, naming the address, instead of after its retries', async () => {
    const port = await closedUdpPort();
    const client = await DatagramClient.open('127.0.0.1', port);
    try {
      const { ms, error } = await failure(() => client.request('hello', { timeoutMs: 3_000, attempts: 3 }));
      expect(error).toMatchObject({ code: 'ENOLISTENER', message: `nothing is listening on udp 127.0.0.1:${port} (is the server running?)` });
      expect(ms).toBeLessThan(2_000);
    } finally {
      await client.close();
    }
    const echo = await failure(() => echoOverUdp('hi', { port, timeoutMs: 9_000 }));
    expect(echo.ms).toBeLessThan(2_000);
  });

  it('the TFTP client fails after its first silence, not after its retries (it waited 32.7 s)', async () => {
    const port = await closedUdpPort();
    const client = await TftpClient.connect({ host: '127.0.0.1', port });
    const sink = new Writable({ write: (_chunk, _encoding, done) => done() });
    const get = await failure(() => client.get('boot.img', sink));
    expect(get.error).toMatchObject({ code: 'ENOLISTENER', message: `nothing is listening on udp 127.0.0.1:${port} (is the TFTP server running?)` });
    // One retransmission interval (1 s) and the probe's answer: far from the 31 s of retries.
    expect(get.ms).toBeLessThan(4_000);
  });

  it('the diary client fails at once too (it waited 11.5 s)', async () => {
    const port = await closedUdpPort();
    const diary = await DiaryClient.connect({ port, timeoutMs: 10_000 });
    try {
      const write = await failure(() => diary.write('lost?'));
      expect(write.error).toMatchObject({ code: 'ENOLISTENER', message: expect.stringContaining(`127.0.0.1:${port}`) as unknown as string });
      expect(write.ms).toBeLessThan(2_000);
      const read = await failure(() => diary.read());
      expect(read.ms).toBeLessThan(2_000);
    } finally {
      await diary.close();
    }
  });

  it('wharf echo send -u and diary write exit non-zero with one sentence', async () => {
    const port = String(await closedUdpPort());
    for (const args of [
      ['echo', 'send', '-u', '-p', port, 'hi'],
      ['diary', 'write', '-p', port, 'hello'],
    ]) {
      const started = performance.now();
      const result = await runWharf(args, { timeoutMs: 30_000 });
      // The slowest of them took 6.9 s before; starting node is most of what is left.
      expect(performance.now() - started, args.join(' ')).toBeLessThan(5_000);
      expect(result.code, args.join(' ')).not.toBe(0);
      expect(result.stderr.trim(), args.join(' ')).toMatch(new RegExp(`^wharf: nothing is listening on udp 127\\.0\\.0\\.1:${port} \\(is [^\\n]+\\)$`));
    }
  });
});
