import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoConfigSchema, echoService } from '../../src/services/echo/server.js';
import { ServiceHost } from '../../src/core/host.js';
import { silentLogger } from '../../src/core/logger.js';
import { runTool, skipReason } from '../helpers/tools.js';

const host = new ServiceHost({ logger: silentLogger(), dataDir: '/tmp' });
let echoPort = 0;
let replyPort = 0;

beforeAll(async () => {
  const echo = await host.start(echoService, echoConfigSchema.parse({ port: 0 }));
  echoPort = echo.addresses[0]!.port;
  const reply = await host.start(echoService, echoConfigSchema.parse({ port: 0, prefix: '收到！' }));
  replyPort = reply.addresses[0]!.port;
});
afterAll(() => host.stop(500));

const noNc = skipReason('nc');
const noSocat = skipReason('socat');

describe('echo with real clients', () => {
  it.skipIf(noNc)(`nc over TCP gets every line back${noNc ? ` (skipped: ${noNc})` : ''}`, async () => {
    // -N: shut down the write side at EOF (OpenBSD nc), so nc exits when the server closes.
    const result = await runTool('nc', ['-N', '127.0.0.1', String(echoPort)], { input: 'hello\n你好\n' });
    expect(result.stdout.toString()).toBe('hello\n你好\n');
  });

  it.skipIf(noNc)(`nc over UDP gets its datagram back${noNc ? ` (skipped: ${noNc})` : ''}`, async () => {
    const result = await runTool('nc', ['-u', '-w', '1', '127.0.0.1', String(echoPort)], { input: 'datagram\n', timeoutMs: 5_000 });
    expect(result.stdout.toString()).toBe('datagram\n');
  });

  it.skipIf(noSocat)(`socat over TCP, binary-safe${noSocat ? ` (skipped: ${noSocat})` : ''}`, async () => {
    const payload = Buffer.concat([Buffer.from([0, 1, 2, 255, 0x23, 0x23]), Buffer.alloc(100_000, 0xab)]);
    const result = await runTool('socat', ['-t', '2', '-', `TCP:127.0.0.1:${echoPort}`], { input: payload });
    expect(result.stdout.equals(payload)).toBe(true);
  });

  it.skipIf(noSocat)(`socat over UDP${noSocat ? ` (skipped: ${noSocat})` : ''}`, async () => {
    const result = await runTool('socat', ['-t', '1', '-', `UDP:127.0.0.1:${replyPort}`], { input: 'hi' });
    expect(result.stdout.toString()).toBe('收到！hi');
  });
});
