import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { echoConfigSchema, echoService } from '../../src/services/echo/server.js';
import { EchoClient, echoOverUdp } from '../../src/services/echo/client.js';
import { fuzz, LogWatch, selected, startHosted, testTimeoutMs, type HostedService } from './harness.js';
import { sendDatagrams, sendStreams } from './transports.js';

/** What the seeds' and RFC 862's clients send: lines, text without a newline, `##`, binary, Chinese. */
const SEEDS = ['hello\n', 'hello', '##', '##\r\n', 'line one\r\nline two\r\n##\r\n', '你好 🌊\n', '\u0000\u00ff binary\n', 'x'.repeat(2_000) + '\n'].map((s) => Buffer.from(s));

const logs = new LogWatch();
let echo: HostedService;

beforeAll(async () => {
  // The prefix mode with line framing runs the most code: the line codec and its limit.
  echo = await startHosted(echoService, echoConfigSchema.parse({ port: 0, prefix: '收到！', framing: 'line', maxLineBytes: 4_096 }), logs);
});
afterAll(() => echo?.host.stop(500));

describe('fuzzing echo', () => {
  it.runIf(selected('echo tcp'))('echo tcp: line framing with a prefix survives mutated sessions', { timeout: testTimeoutMs() }, async () => {
    const report = await fuzz(
      {
        name: 'echo tcp',
        seeds: SEEDS,
        deliver: (messages) => sendStreams(messages, { port: echo.port('tcp') }),
        async healthy() {
          const client = await EchoClient.connect({ port: echo.port('tcp') });
          try {
            expect(await client.send('still there?')).toBe('收到！still there?');
          } finally {
            client.close();
          }
        },
      },
      logs,
    );
    expect(report.batches).toBeGreaterThan(0);
  });

  it.runIf(selected('echo udp'))('echo udp survives mutated datagrams', { timeout: testTimeoutMs() }, async () => {
    const report = await fuzz(
      {
        name: 'echo udp',
        seeds: SEEDS,
        maxMessageBytes: 65_507,
        deliver: (messages) => sendDatagrams(messages, { port: echo.port('udp') }),
        async healthy() {
          expect(await echoOverUdp('ping', { port: echo.port('udp') })).toBe('收到！ping');
        },
      },
      logs,
    );
    expect(report.batches).toBeGreaterThan(0);
  });
});
