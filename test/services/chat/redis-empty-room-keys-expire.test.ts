/**
 * the in-memory bus forgets empty rooms "so memory does not grow with every room ever
 * used" (room.ts #forgetIdleRooms); the Redis bus keeps `seq:<room>` and `stream:<room>` (up to
 * about recentPerRoom messages) of every room ever used, without a TTL, forever. A member who
 * walks through new room names, saying one line in each, grows Redis without bound.
 */
import { describe, expect, it } from 'vitest';
import { MemoryHistory } from '../../../src/services/chat/history.js';
import { RedisRoomBus } from '../../../src/services/chat/redis-bus.js';
import { capturingLogger } from '../../helpers/logs.js';
import { REDIS_URL, redisTestFile } from './redis-support.js';

const { skip, redis, prefix } = await redisTestFile();

describe.skipIf(skip !== undefined)('RedisRoomBus keys of rooms nobody is in', () => {
  it('an empty room leaves no key in Redis without a time to live', async () => {
    const bus = await RedisRoomBus.connect({ url: REDIS_URL, history: new MemoryHistory(), logger: capturingLogger().logger, keyPrefix: prefix });
    try {
      expect(await bus.claim({ name: 'walker', room: 'r0', via: 'tcp', account: false, address: '127.0.0.1' }, 'o')).toEqual({ ok: true });
      for (let i = 0; i < 5; i++) {
        if (i > 0) expect(await bus.move('walker', 'o', `r${i}`)).toEqual({ ok: true });
        expect(await bus.publish(`r${i}`, { kind: 'chat', from: 'walker', text: `hello r${i}` }, 'o')).toBeDefined();
      }
      await bus.release('walker', 'o', 'left');
      expect(await bus.rooms()).toEqual([]);
      const forever: string[] = [];
      for await (const batch of redis!.scanIterator({ MATCH: `${prefix}*`, COUNT: 500 })) {
        for (const key of batch) if ((await redis!.pTTL(key)) === -1 && !key.endsWith('names') && !key.endsWith('nodes')) forever.push(key.slice(prefix.length));
      }
      expect(forever.sort()).toEqual([]);
    } finally {
      await bus.close();
    }
  });

  it('a room in use keeps its keys; once they expire, numbering goes on from the history', async () => {
    const history = new MemoryHistory();
    const bus = await RedisRoomBus.connect({ url: REDIS_URL, history, logger: capturingLogger().logger, keyPrefix: prefix });
    try {
      expect(await bus.claim({ name: 'ann', room: 'back', via: 'tcp', account: false, address: '127.0.0.1' }, 'o')).toEqual({ ok: true });
      expect((await bus.publish('back', { kind: 'chat', from: 'ann', text: 'one' }, 'o'))?.seq).toBe(1);
      await bus.release('ann', 'o', 'left');
      expect(await redis!.pTTL(`${prefix}seq:back`)).toBeGreaterThan(0);
      // Someone comes back before they expire: the keys stay for as long as the room is used.
      expect(await bus.claim({ name: 'ann', room: 'back', via: 'tcp', account: false, address: '127.0.0.1' }, 'o')).toEqual({ ok: true });
      expect(await redis!.pTTL(`${prefix}seq:back`)).toBe(-1);
      expect(await redis!.pTTL(`${prefix}stream:back`)).toBe(-1);
      await bus.release('ann', 'o', 'left');
      await bus.flushed();
      // They expire (as Redis does once their time is up); the room is used again.
      await redis!.del([`${prefix}seq:back`, `${prefix}stream:back`]);
      expect(await bus.claim({ name: 'ann', room: 'back', via: 'tcp', account: false, address: '127.0.0.1' }, 'o')).toEqual({ ok: true });
      expect((await bus.publish('back', { kind: 'chat', from: 'ann', text: 'two' }, 'o'))?.seq).toBe(2);
      expect(await redis!.pTTL(`${prefix}seq:back`)).toBe(-1);
    } finally {
      await bus.close();
    }
  });
});
