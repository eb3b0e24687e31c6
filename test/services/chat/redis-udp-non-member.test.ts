/**
 * The seed room on a node that shares its room through Redis: a datagram from an address that
 * never logged in (a stray, or a flood of `C name text` for names nobody holds) is dropped by the node itself and
 * costs Redis nothing; the scripts a member's messages run are sent by their SHA1, not in full.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { capturingLogger } from '../../helpers/logs.js';
import { SeedPeer, sleep, startTestChat, stopAllChats } from './support.js';
import { RedisProxy, redisTestFile } from './redis-support.js';

const { skip, prefix } = await redisTestFile();
const peers: SeedPeer[] = [];
afterEach(async () => {
  for (const peer of peers.splice(0)) peer.close();
  await stopAllChats();
});

describe.skipIf(skip !== undefined)('seed datagrams on a node over Redis', () => {
  it('datagrams from an address that never logged in cost Redis nothing; a member\'s messages cost a few bytes each', async () => {
    const proxy = await RedisProxy.start();
    try {
      const { chat, udp } = await startTestChat({ history: 'memory', redisKeyPrefix: prefix }, { resources: { redis: proxy.url }, logger: capturingLogger().logger });
      const member = await SeedPeer.open(udp);
      const stranger = await SeedPeer.open(udp);
      peers.push(member, stranger);
      expect(await member.login('ann')).toBe('OK');
      member.send('C ann warm-up');
      await expect.poll(() => chat.stats.udp?.messages, { timeout: 5_000 }).toBe(1);
      await sleep(200);

      const before = proxy.bytesToRedis;
      for (let i = 0; i < 20; i++) stranger.send(`C ghost stray ${i}`);
      stranger.send('E ghost');
      await expect.poll(() => chat.stats.udp?.notMember, { timeout: 5_000 }).toBe(21);
      await sleep(200);
      // A lease renewal may fall in the window: a few hundred bytes. Twenty scripts would be 30 KB.
      expect(proxy.bytesToRedis - before).toBeLessThan(1_000);

      const beforeSaid = proxy.bytesToRedis;
      for (let i = 0; i < 20; i++) member.send(`C ann line ${i}`);
      await expect.poll(() => chat.stats.udp?.messages, { timeout: 5_000 }).toBe(21);
      await sleep(200);
      expect((proxy.bytesToRedis - beforeSaid) / 20).toBeLessThan(800);
    } finally {
      await stopAllChats();
      proxy.close();
    }
  });
});
