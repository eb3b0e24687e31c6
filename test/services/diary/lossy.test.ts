import { afterEach, describe, expect, it } from 'vitest';
import { LossyUdpRelay } from '../../../src/testing/lossy-udp-relay.js';
import { testDatabases } from '../../store/databases.js';
import { allEntries, openClient, startDiary, stopAll } from './support.js';

afterEach(() => stopAll());

/**
 * The test: 1,000 entries from 10 clients through a relay that loses 10% of the
 * datagrams both ways, duplicates and reorders them. Exactly 1,000 must be stored, each once, each
 * client's in the order it wrote them. One entry per datagram and up to 8 in flight, so that
 * every loss, duplicate and reordering lands on an entry or its acknowledgement.
 */
for (const database of testDatabases) {
  describe.skipIf(!database.available)(`nothing lost, nothing doubled on ${database.label}`, () => {
    it('1,000 entries from 10 clients through 10% loss, duplicates and reordering', async () => {
      const { port, store } = await startDiary({}, database);
      const relay = await LossyUdpRelay.start({
        target: { host: '127.0.0.1', port },
        dropPercent: 10,
        duplicatePercent: 10,
        reorderPercent: 10,
        delayMs: { min: 0, max: 4 },
        reorderHoldMs: 20,
      });
      try {
        const clients = await Promise.all(
          Array.from({ length: 10 }, () =>
            openClient(relay.address.port, { maxEntriesPerDatagram: 1, window: 8, retransmitMs: 40, minRetransmitMs: 20, maxRetransmitMs: 200, timeoutMs: 30_000 }),
          ),
        );
        const started = Date.now();
        await Promise.all(clients.map((client, c) => Promise.all(Array.from({ length: 100 }, (_, i) => client.write(`client ${c} entry ${i}`)))));
        const seconds = (Date.now() - started) / 1000;

        const rows = await allEntries(store);
        expect(rows).toHaveLength(1000);
        const keys = new Set(rows.map((r) => `${r.client_id}/${r.seq}`));
        expect(keys.size).toBe(1000);
        for (const [c, client] of clients.entries()) {
          const own = rows.filter((r) => r.client_id === client.clientId);
          expect(own.map((r) => r.text)).toEqual(Array.from({ length: 100 }, (_, i) => `client ${c} entry ${i}`));
          expect(own.map((r) => r.seq)).toEqual(Array.from({ length: 100 }, (_, i) => i + 1));
        }
        const stats = relay.stats;
        // The relay really did its damage (seed ${relay.seed} replays it).
        expect(stats.dropped, `relay seed ${relay.seed}`).toBeGreaterThan(100);
        expect(stats.duplicated).toBeGreaterThan(50);
        expect(stats.reordered).toBeGreaterThan(10);
        expect(seconds).toBeLessThan(20);
      } finally {
        await relay.close();
      }
    });
  });
}

describe('nothing lost with the default packing', () => {
  it('10 clients × 100 entries, several per datagram, through 10% loss both ways', async () => {
    const { port, store } = await startDiary();
    const relay = await LossyUdpRelay.start({ target: { host: '127.0.0.1', port }, dropPercent: 10, duplicatePercent: 10, reorderPercent: 10, reorderHoldMs: 20 });
    try {
      const clients = await Promise.all(Array.from({ length: 10 }, () => openClient(relay.address.port, { retransmitMs: 40, minRetransmitMs: 20, maxRetransmitMs: 200, timeoutMs: 30_000 })));
      await Promise.all(clients.map((client, c) => Promise.all(Array.from({ length: 100 }, (_, i) => client.write(`client ${c} entry ${i}`)))));
      const rows = await allEntries(store);
      expect(rows).toHaveLength(1000);
      for (const [c, client] of clients.entries()) {
        expect(rows.filter((r) => r.client_id === client.clientId).map((r) => r.text)).toEqual(Array.from({ length: 100 }, (_, i) => `client ${c} entry ${i}`));
      }
    } finally {
      await relay.close();
    }
  });
});
