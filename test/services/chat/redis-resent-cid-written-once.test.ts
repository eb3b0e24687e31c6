/**
 * a message said twice with one client id (a wharf client's resend after a reconnect
 * during a Redis outage, or after it moved to another node) gets its number once, but each
 * APPEND that answers that number hands the message to the HistoryWriter again. The SQL history
 * has a unique (room, seq) index and the writer sends a batch as one INSERT: the duplicate makes
 * the whole batch fail, so other members' messages numbered in the same turn never reach the
 * durable history.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SqlHistory } from '../../../src/services/chat/history.js';
import { RedisRoomBus } from '../../../src/services/chat/redis-bus.js';
import { openStore } from '../../../src/store/index.js';
import { capturingLogger } from '../../helpers/logs.js';
import { REDIS_URL, redisTestFile } from './redis-support.js';

const { skip, prefix } = await redisTestFile();

describe.skipIf(skip !== undefined)('RedisRoomBus history with a resent client id', () => {
  it('a resent cid does not cost other messages their place in the durable history', async () => {
    const store = await openStore({ dataDir: mkdtempSync(join(tmpdir(), 'wharf-review-redis-')) });
    const history = new SqlHistory(store);
    const { logger } = capturingLogger();
    const bus = await RedisRoomBus.connect({ url: REDIS_URL, history, logger, keyPrefix: prefix });
    try {
      const owner = 'o1';
      expect(await bus.claim({ name: 'alice', room: 'lobby', via: 'tcp', account: false, address: '127.0.0.1' }, owner)).toEqual({ ok: true });
      expect(await bus.claim({ name: 'bob', room: 'lobby', via: 'tcp', account: false, address: '127.0.0.1' }, owner)).toEqual({ ok: true });
      // The first attempt and the client's resend (same cid), and bob's message, in one turn.
      const sent = await Promise.all([
        bus.publish('lobby', { kind: 'chat', from: 'alice', text: 'only once', cid: 'c-1' }, owner),
        bus.publish('lobby', { kind: 'chat', from: 'alice', text: 'only once', cid: 'c-1' }, owner),
        bus.publish('lobby', { kind: 'chat', from: 'bob', text: 'from bob' }, owner),
      ]);
      expect(sent.map((m) => m?.seq)).toEqual([1, 1, 2]);
      await bus.flushed();
      const stored = await history.range('lobby', 0, 100, 100);
      expect(stored.map((m) => [m.seq, m.text])).toEqual([
        [1, 'only once'],
        [2, 'from bob'],
      ]);
      expect(bus.historyWriteFailures).toBe(0);
    } finally {
      await bus.close();
      await store.close();
    }
  });
});
