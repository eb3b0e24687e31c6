/**
 * The portal's WebSocket members over Redis (`--redis`): a page on one node and TCP and seed
 * members on another are in one room, private messages cross, and a reconnect catches up.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RawChat, SeedPeer, startTestChat, stopAllChats } from './support.js';
import { WsPeer, startPortalChat, type PortalChat } from './portal-support.js';
import { REDIS_URL, redisTestFile } from './redis-support.js';

const { skip, prefix } = await redisTestFile();
const started: PortalChat[] = [];
const sockets: WsPeer[] = [];
const seeds: SeedPeer[] = [];
const raws: RawChat[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.close();
  for (const s of seeds.splice(0)) s.close();
  for (const r of raws.splice(0)) r.close();
  await Promise.all(started.splice(0).map((p) => p.stop()));
  await stopAllChats();
});

describe.skipIf(skip !== undefined)(`chat in the portal over Redis${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a page on node A and a TCP and a seed member on node B share the room, the private messages and the catch-up', async () => {
    const config = { history: 'memory', redisKeyPrefix: `${prefix}a:` };
    const a = await startPortalChat(config, { resources: { redis: REDIS_URL } });
    started.push(a);
    const b = await startTestChat(config, { resources: { redis: REDIS_URL } });
    const xiaohong = await SeedPeer.open(b.udp);
    seeds.push(xiaohong);
    expect(await xiaohong.login('小红')).toBe('OK');
    const bob = await RawChat.connect(b.tcp);
    raws.push(bob);
    bob.send({ type: 'hello', name: 'bob' });
    await bob.waitFor((f) => f.some((m) => m.type === 'synced'), 5_000, 'bob synced');

    const alice = await WsPeer.joined(a.socketUrl);
    sockets.push(alice);
    expect((alice.of('joined')[0]!.members as Array<{ name: string }>).map((m) => m.name)).toEqual(['alice', 'bob', '小红']);
    alice.send({ type: 'say', text: '你好 🌏' });
    await xiaohong.waitForLine('alice : 你好 🌏');
    await bob.waitFor((f) => f.some((m) => m.type === 'msg' && m.text === '你好 🌏'), 5_000, 'bob hears alice');
    bob.send({ type: 'pm', to: 'alice', text: 'across nodes' });
    await alice.waitFor((f) => f.some((m) => m.type === 'pm' && m.text === 'across nodes'), 'pm across nodes');

    const last = Number(alice.of('msg').at(-1)!.seq);
    alice.close();
    for (let i = 0; i < 5; i++) xiaohong.send(`C 小红 missed ${i}`);
    await bob.waitFor((f) => f.some((m) => m.type === 'msg' && m.text === 'missed 4'), 5_000, 'missed 4');
    const again = await WsPeer.joined(a.socketUrl, 'lobby', last);
    sockets.push(again);
    expect(again.texts()).toEqual(['missed 0', 'missed 1', 'missed 2', 'missed 3', 'missed 4']);
    expect(again.of('synced')[0]).toMatchObject({ gap: false });
  });
});
