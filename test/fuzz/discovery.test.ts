import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discoveryConfigSchema, discoveryService } from '../../src/services/discovery/server.js';
import { discover } from '../../src/services/discovery/client.js';
import { formatProbe } from '../../src/services/discovery/protocol.js';
import { fuzz, LogWatch, selected, startHosted, testTimeoutMs, type HostedService } from './harness.js';
import { sendDatagrams } from './transports.js';

/** The seed's `Hi`, wharf's probe, and the look-alike answers the server must never answer. */
const SEEDS = [
  Buffer.from('Hi'),
  formatProbe('n0nce_-42'),
  Buffer.from('WHARF-DISCOVER 1 abc\r\n'),
  Buffer.from('{"wharf":1,"version":"0.1.0","name":"box","nonce":"abc","services":[{"service":"echo","transport":"tcp","address":"*","port":7007}]}'),
  Buffer.from('wharf 0.1.0 on box: echo tcp 7007\n'),
];

const logs = new LogWatch();
let discovery: HostedService;

beforeAll(async () => {
  // The rate limit would drop most fuzz probes unanswered: lift it so each one is parsed and answered.
  discovery = await startHosted(discoveryService, discoveryConfigSchema.parse({ port: 0, name: 'fuzz-box', answersPerSecond: 10_000, answerBurst: 10_000 }), logs);
});
afterAll(() => discovery?.host.stop(500));

describe('fuzzing discovery', () => {
  it.runIf(selected('discovery'))('discovery survives mutated probes and answers a real one', { timeout: testTimeoutMs() }, async () => {
    const port = discovery.port('udp');
    const report = await fuzz(
      {
        name: 'discovery',
        seeds: SEEDS,
        maxMessageBytes: 65_507,
        batchSize: 24,
        deliver: (messages) => sendDatagrams(messages, { port }),
        async healthy() {
          const found = await discover({ address: '127.0.0.1', port, maxServers: 1, timeoutMs: 3_000 });
          expect(found.map((server) => server.name)).toEqual(['fuzz-box']);
        },
      },
      logs,
    );
    expect(report.batches).toBeGreaterThan(0);
  });
});
