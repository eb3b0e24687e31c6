import { randomBytes } from 'node:crypto';
import { readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { LossyUdpRelay } from '../../../src/testing/lossy-udp-relay.js';
import { TftpClient } from '../../../src/services/tftp/client.js';
import { sha256, startTestServer, stopTestServers, waitUntil } from './support.js';

const relays: LossyUdpRelay[] = [];
afterEach(async () => {
  await Promise.all(relays.splice(0).map((r) => r.close()));
  await stopTestServers();
});

/** WHARF_TEST_SEED=n shifts every relay's seed: run with a few values to shake out rare paths. */
const seedBase = Number(process.env.WHARF_TEST_SEED ?? 0);

/** 5% loss, 5% duplicates, 5% reordering and a little jitter, both ways. */
async function badNetwork(port: number, seed: number): Promise<LossyUdpRelay> {
  const relay = await LossyUdpRelay.start({
    target: { host: '127.0.0.1', port },
    dropPercent: 5,
    duplicatePercent: 5,
    reorderPercent: 5,
    reorderHoldMs: 5,
    delayMs: { min: 0, max: 2 },
    seed: (seed + seedBase * 7919) >>> 0,
  });
  relays.push(relay);
  return relay;
}

async function collect(stream: PassThrough, run: () => Promise<unknown>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  await run();
  return Buffer.concat(chunks);
}

// Short timers on both sides: losses are recovered by timeouts, and the test should not wait long.
const timing = { timeoutMs: 40, retries: 12 };

describe('tftp through a lossy network (5% loss, duplicates, reordering)', () => {
  for (const [blockSize, windowSize] of [[512, 1], [1468, 8]] as const) {
    it(`downloads byte for byte, blksize ${blockSize}, windowsize ${windowSize}`, async () => {
      const { root, port, service } = await startTestServer({ timeoutMs: 40, maxTimeoutMs: 200, retries: 12 });
      const data = randomBytes(blockSize === 512 ? 80_000 : 300_000);
      await writeFile(join(root, 'firmware.bin'), data);
      const relay = await badNetwork(port, 1000 + blockSize + windowSize);
      const client = await TftpClient.connect({ host: '127.0.0.1', port: relay.address.port, blockSize, windowSize, ...timing });
      const out = new PassThrough();
      let result: Awaited<ReturnType<TftpClient['get']>> | undefined;
      const received = await collect(out, async () => (result = await client.get('firmware.bin', out)));
      expect(sha256(received), `relay seed ${relay.seed}`).toBe(sha256(data));
      const stats = relay.stats;
      expect(stats.dropped).toBeGreaterThan(0);
      expect(stats.duplicated).toBeGreaterThan(0);
      // In lockstep a held-back datagram rarely has a successor to overtake it; with windows it does.
      if (windowSize > 1) expect(stats.reordered).toBeGreaterThan(0);
      expect(result!.bytes).toBe(data.length);

      // Again, now sent from the server's file cache (header and bytes from memory, resends too).
      await waitUntil(() => service.fileCache.files === 1, 5_000, 'the file to be cached');
      const out2 = new PassThrough();
      const received2 = await collect(out2, () => client.get('firmware.bin', out2));
      expect(sha256(received2), `relay seed ${relay.seed}`).toBe(sha256(data));
      expect(service.fileCache.hits).toBe(1);
    });

    it(`uploads byte for byte, blksize ${blockSize}, windowsize ${windowSize}`, async () => {
      const { root, port, service } = await startTestServer({ allowWrite: true, timeoutMs: 40, maxTimeoutMs: 200, retries: 12 });
      const data = randomBytes(blockSize === 512 ? 80_000 : 300_000);
      const relay = await badNetwork(port, 2000 + blockSize + windowSize);
      await (await TftpClient.connect({ host: '127.0.0.1', port: relay.address.port, blockSize, windowSize, ...timing })).put(data, 'upload.bin');
      // The server commits before its final ACK, so the file is there as soon as put resolves.
      expect(sha256(await readFile(join(root, 'upload.bin'))), `relay seed ${relay.seed}`).toBe(sha256(data));
      expect(relay.stats.dropped).toBeGreaterThan(0);
      await stopTestServers();
      expect(service.activeTransfers).toBe(0);
      expect(await readdir(root)).toEqual(['upload.bin']);
    });
  }

  it('converts netascii correctly when blocks are lost, duplicated and reordered', async () => {
    const { root, port } = await startTestServer({ allowWrite: true, timeoutMs: 40, maxTimeoutMs: 200, retries: 12 });
    const text = Buffer.from(Array.from({ length: 1500 }, (_, i) => `line ${i}\r${i % 3 === 0 ? '\n' : ''}\n`).join(''));
    await writeFile(join(root, 'config.txt'), text);
    const relay = await badNetwork(port, 77);
    const client = await TftpClient.connect({ host: '127.0.0.1', port: relay.address.port, mode: 'netascii', blockSize: 512, windowSize: 4, ...timing });
    const out = new PassThrough();
    expect(await collect(out, () => client.get('config.txt', out))).toEqual(text);
    await client.put(Buffer.from(text), 'copy.txt');
    expect(await readFile(join(root, 'copy.txt'))).toEqual(text);
  });
});
