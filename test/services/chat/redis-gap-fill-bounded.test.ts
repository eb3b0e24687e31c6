/**
 * While a node fills a gap (its subscription was down, and what it missed is read from Redis and
 * the store), what keeps arriving waits in memory, and the fill waits on Redis and the store.
 * Both are bounded: past `maxInbox` new messages are dropped and read again afterwards; a fill
 * that takes longer than `fillTimeoutMs` is abandoned and tried again. Either way, each said once
 * in the log, and in the end every message is delivered, in order, once.
 */
import { describe, expect, it } from 'vitest';
import { MemoryHistory, type HistoryStore } from '../../../src/services/chat/history.js';
import type { ChatMessage } from '../../../src/services/chat/protocol.js';
import { RedisRoomBus } from '../../../src/services/chat/redis-bus.js';
import { capturingLogger } from '../../helpers/logs.js';
import { REDIS_URL, RedisProxy, redisTestFile } from './redis-support.js';

const { skip, prefix } = await redisTestFile();

/** The shared history, whose reads wait until `open()` (a store that stopped answering). */
class StalledReads implements HistoryStore {
  readonly #inner: HistoryStore;
  #opened!: () => void;
  readonly #gate = new Promise<void>((resolve) => (this.#opened = resolve));
  reads = 0;
  constructor(inner: HistoryStore) {
    this.#inner = inner;
  }
  open(): void {
    this.#opened();
  }
  lastSeq(room: string): Promise<number> {
    return this.#inner.lastSeq(room);
  }
  append(messages: readonly ChatMessage[]): Promise<void> {
    return this.#inner.append(messages);
  }
  async range(room: string, after: number, before: number, limit: number): Promise<ChatMessage[]> {
    this.reads++;
    await this.#gate;
    return this.#inner.range(room, after, before, limit);
  }
}

describe.skipIf(skip !== undefined)('RedisRoomBus gap fill bounds', () => {
  it('a stalled fill and a flood while it runs cost one log line each, and every message still arrives in order, once', async () => {
    const shared = new MemoryHistory();
    const stalled = new StalledReads(shared);
    const proxy = await RedisProxy.start();
    const logs = capturingLogger();
    const a = await RedisRoomBus.connect({ keyPrefix: prefix, recentPerRoom: 10, url: proxy.url, history: stalled, logger: logs.logger, maxInbox: 20, fillTimeoutMs: 500 });
    const b = await RedisRoomBus.connect({ keyPrefix: prefix, recentPerRoom: 10, url: REDIS_URL, history: shared, logger: capturingLogger().logger });
    const seen: number[] = [];
    a.subscribe((event) => {
      if (event.type === 'message') seen.push(event.message.seq);
    });
    const say = async (count: number) => {
      for (let i = 0; i < count; i++) await b.publish('lobby', { kind: 'admin', from: 'console', text: `m${i}` });
    };
    try {
      expect(await a.claim({ name: 'stayer', room: 'lobby', via: 'tcp', account: false, address: '127.0.0.1' }, 'o')).toEqual({ ok: true });
      await say(1);
      await expect.poll(() => seen, { timeout: 5_000 }).toEqual([1]);
      proxy.cut();
      await new Promise((resolve) => setTimeout(resolve, 100));
      // More than the stream keeps: the fill needs the store, which does not answer.
      await say(300);
      await b.flushed();
      proxy.restore();
      await expect.poll(() => stalled.reads, { timeout: 10_000 }).toBeGreaterThan(0);
      await say(100);
      await new Promise((resolve) => setTimeout(resolve, 1_200));
      expect(seen).toEqual([1]);
      stalled.open();
      await expect.poll(() => seen.at(-1), { timeout: 10_000 }).toBe(401);
      expect(seen).toEqual(Array.from({ length: 401 }, (_, i) => i + 1));
      const warnings = logs.events.filter((event) => event.level === 40).map((event) => event.msg);
      expect(warnings.filter((msg) => msg.startsWith('chat messages arrive faster'))).toHaveLength(1);
      expect(warnings.filter((msg) => msg.startsWith('could not read the chat stream'))).toHaveLength(1);
    } finally {
      await a.close();
      await b.close();
      proxy.close();
    }
  }, 30_000);
});
