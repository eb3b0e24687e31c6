import dgram from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeMessage } from '../../src/services/diary/protocol.js';
import { diaryConfigSchema, diaryService } from '../../src/services/diary/server.js';
import { openStore, type Store } from '../../src/store/index.js';
import { fuzz, LogWatch, selected, startHosted, testTimeoutMs, type HostedService } from './harness.js';
import { sendDatagrams } from './transports.js';

/** The seed's text datagrams (S10) and wharf's own messages (magic FF 57 44 01, then JSON). */
const SEEDS = [
  Buffer.from('dear diary, 今天天气很好'),
  Buffer.from('-r'),
  Buffer.from('-R'),
  Buffer.from('-c'),
  encodeMessage({ op: 'write', c: '0123456789abcdef', e: [[1, 'first'], [2, 'second 你好']] }),
  encodeMessage({ op: 'write', c: '0123456789abcdef', d: 'alice', tok: 'AAAAAAAAAAAAAAAAAAAAAA', e: [[3, 'private']] }),
  encodeMessage({ op: 'login', rid: 'r1', user: 'alice', pass: 'secret' }),
  encodeMessage({ op: 'read', rid: 'r2', since: 0, after: 1, max: 1400 }),
  encodeMessage({ op: 'clear', rid: 'r3', d: 'alice' }),
];

const logs = new LogWatch();
let diary: HostedService;
let store: Store;

beforeAll(async () => {
  const dataDir = await mkdtemp(join(tmpdir(), 'wharf-fuzz-diary-'));
  store = await openStore({ dataDir, accounts: { throttle: { baseDelayMs: 0, maxDelayMs: 0 } } });
  await store.accounts.add('alice', 'secret');
  diary = await startHosted(diaryService, diaryConfigSchema.parse({ port: 0, timeZone: 'UTC', ratePerSecond: 100_000 }), logs, { dataDir, resources: { store } });
});
afterAll(async () => {
  await diary?.host.stop(500);
  await store?.close();
});

let healthChecks = 0;

describe('fuzzing diary', () => {
  it.runIf(selected('diary'))('diary survives mutated datagrams, seed and wharf protocol', { timeout: testTimeoutMs() }, async () => {
    const port = diary.port('udp');
    const report = await fuzz(
      {
        name: 'diary',
        seeds: SEEDS,
        maxMessageBytes: 65_507,
        deliver: (messages) => sendDatagrams(messages, { port, quietMs: 50 }),
        async healthy() {
          // The seed client's exchange: a line in, the stamped line back.
          const socket = dgram.createSocket('udp4');
          try {
            const entry = `health check ${++healthChecks}`;
            const answer = once(socket, 'message');
            socket.send(entry, port, '127.0.0.1');
            const [message] = (await answer) as [Buffer];
            expect(message.toString()).toMatch(new RegExp(`^\\[\\w{3} \\w{3} [ \\d]\\d \\d\\d:\\d\\d:\\d\\d \\d{4}\\] ${entry}$`));
          } finally {
            socket.close();
          }
        },
      },
      logs,
    );
    expect(report.batches).toBeGreaterThan(0);
  });
});
