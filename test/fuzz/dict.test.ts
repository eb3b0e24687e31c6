import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DictClient } from '../../src/services/dict/client.js';
import { dictConfigSchema, dictService } from '../../src/services/dict/server.js';
import { openStore, type Store } from '../../src/store/index.js';
import { fuzz, LogWatch, selected, startHosted, testTimeoutMs, type HostedService } from './harness.js';
import { SEEDS } from './dict-seeds.js';
import { sendStreams } from './transports.js';

const WORDS = ['abandon          v. go away from, leaving behind', 'café             a small restaurant', 'Zürich           a city', '你好             hello', 'twice            first meaning', 'twice            second meaning', ''];

const logs = new LogWatch();
let dict: HostedService;
let store: Store;

beforeAll(async () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'wharf-fuzz-dict-'));
  const words = join(dataDir, 'words.txt');
  writeFileSync(words, WORDS.join('\n'));
  // No login delays: a throttled fuzzer would spend its budget waiting instead of parsing.
  store = await openStore({ dataDir, accounts: { registrationsPerIpPerHour: 1_000, throttle: { baseDelayMs: 0, maxDelayMs: 0 } } });
  dict = await startHosted(dictService, dictConfigSchema.parse({ port: 0, hostname: 'fuzz.host', wordnet: false, imported: false, databases: [{ name: 'seed', path: words }] }), logs, {
    dataDir,
    resources: { store },
  });
});
afterAll(async () => {
  await dict?.host.stop(500);
  await store?.close();
});

describe('fuzzing dict', () => {
  it.runIf(selected('dict'))('dict survives mutated DICT sessions and still defines a word', { timeout: testTimeoutMs() }, async () => {
    const port = dict.port('tcp');
    const report = await fuzz(
      {
        name: 'dict',
        seeds: SEEDS,
        deliver: (messages) => sendStreams(messages, { port }),
        async healthy() {
          const client = await DictClient.connect({ port, timeoutMs: 4_000 });
          try {
            const definitions = await client.define('abandon');
            expect(definitions.map((d) => d.database)).toEqual(['seed']);
          } finally {
            await client.quit().catch(() => undefined);
          }
        },
      },
      logs,
    );
    expect(report.batches).toBeGreaterThan(0);
  });
});
