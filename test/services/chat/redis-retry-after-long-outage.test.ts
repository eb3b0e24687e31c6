/**
 * a message whose APPEND ran in Redis but whose answer was lost (the connection dropped
 * under it) is sent again by #evalRetrying once Redis is reachable. The attempt key that makes
 * the retry harmless lives ATTEMPT_MEMORY_MS (15 s) from the first run, but the retry waits in the
 * client's offline queue for as long as the outage lasts: after an outage longer than 15 s the
 * retry numbers the message again, and every member sees it twice (issue #17: "nothing is
 * delivered twice ... after Redis returns").
 */
import { describe, expect, it } from 'vitest';
import { MemoryHistory } from '../../../src/services/chat/history.js';
import type { ChatMessage } from '../../../src/services/chat/protocol.js';
import { RedisRoomBus } from '../../../src/services/chat/redis-bus.js';
import { capturingLogger } from '../../helpers/logs.js';
import { REDIS_URL, RedisProxy, redisTestFile } from './redis-support.js';

const { skip, prefix } = await redisTestFile();

describe.skipIf(skip !== undefined)('RedisRoomBus retry after a long outage', () => {
  it('a message whose answer was lost is numbered once, even when Redis is away for longer than 15 s (its sender is told the outcome is unknown)', async () => {
    const proxy = await RedisProxy.start();
    const common = { keyPrefix: prefix, history: new MemoryHistory(), logger: capturingLogger().logger, leaseMs: 60_000 };
    const a = await RedisRoomBus.connect({ ...common, url: proxy.url });
    const b = await RedisRoomBus.connect({ ...common, url: REDIS_URL });
    const seenOnB: string[] = [];
    b.subscribe((event) => {
      if (event.type === 'message') seenOnB.push(`${(event.message as ChatMessage).seq} ${(event.message as ChatMessage).text}`);
    });
    try {
      await a.publish('lobby', { kind: 'admin', from: 'console', text: 'first' });
      proxy.swallowing = true;
      const said = a.publish('lobby', { kind: 'admin', from: 'console', text: 'once' }).then(
        (message) => message?.seq,
        (error: { code?: string }) => error.code,
      );
      // It runs in Redis (B hears it); A never hears the answer.
      await expect.poll(() => seenOnB, { timeout: 5_000 }).toEqual(['1 first', '2 once']);
      // Redis goes away (connections refused, as when it is down) for 16 s, then comes back.
      const port = proxy.port;
      proxy.server.close();
      proxy.cut();
      proxy.refusing = false;
      proxy.swallowing = false;
      await new Promise((resolve) => setTimeout(resolve, 16_000));
      await proxy.listen(port);
      // Past the attempt memory the retry is not sent: the outcome is unknown to A (EREDIS), and
      // a wharf client says it again by cid; it is never numbered a second time.
      expect(await said).toBe('EREDIS');
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(seenOnB).toEqual(['1 first', '2 once']);
    } finally {
      await a.close();
      await b.close();
      proxy.close();
    }
  }, 40_000);
});
