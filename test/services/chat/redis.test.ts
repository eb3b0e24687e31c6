/**
 * Two chat servers in this process sharing one Redis (the RedisRoomBus): one room over both, names
 * unique over both, private messages routed to the member's node, and a cut Redis connection that
 * costs the members nothing and shows them nothing twice.
 */
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { capturingLogger, type LogEvent } from '../../helpers/logs.js';
import { RawChat, SeedPeer, sleep, startTestChat, stopAllChats, type StartedChat } from './support.js';
import { deletePrefix, killConnections, RedisProxy, redisSkipReason, REDIS_URL, testRedis, uniquePrefix } from './redis-support.js';

const skip = await redisSkipReason();
const redis = skip ? undefined : await testRedis();
const prefixes: string[] = [];
const raws: RawChat[] = [];
const peers: SeedPeer[] = [];

afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  for (const p of peers.splice(0)) p.close();
  await stopAllChats();
  for (const prefix of prefixes.splice(0)) await deletePrefix(redis!, prefix);
});
afterAll(async () => {
  await redis?.close();
});

/** Two nodes on one prefix; A reaches Redis at `redisForA` (a proxy) when given. */
async function twoNodes(overrides: Record<string, unknown> = {}, redisForA = REDIS_URL): Promise<{ a: StartedChat; b: StartedChat; prefix: string; logs: LogEvent[][] }> {
  const prefix = uniquePrefix();
  prefixes.push(prefix);
  const config = { history: 'memory', redisKeyPrefix: prefix, ...overrides };
  const [logA, logB] = [capturingLogger(), capturingLogger()];
  const a = await startTestChat(config, { resources: { redis: redisForA }, logger: logA.logger });
  const b = await startTestChat(config, { resources: { redis: REDIS_URL }, logger: logB.logger });
  return { a, b, prefix, logs: [logA.events, logB.events] };
}

async function raw(port: number): Promise<RawChat> {
  const r = await RawChat.connect(port);
  raws.push(r);
  return r;
}

async function hello(port: number, name: string, extra: Record<string, unknown> = {}): Promise<RawChat> {
  const r = await raw(port);
  r.send({ type: 'hello', id: 1, name, ...extra });
  await r.waitFor((frames) => frames.some((f) => f.type === 'synced' || f.type === 'error'), 5_000, `welcome of ${name}`);
  return r;
}

const texts = (r: RawChat) => r.of('msg').map((m) => m.text);

describe.skipIf(skip !== undefined)(`chat over Redis, two nodes in one process${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('one room over both nodes: a seed member on A and a TCP member on B chat both ways', async () => {
    const { a, b } = await twoNodes();
    const seed = await SeedPeer.open(a.udp);
    peers.push(seed);
    expect(await seed.login('小红')).toBe('OK');
    const bob = await hello(b.tcp, 'bob');
    expect(bob.of('welcome')[0]!.members).toEqual([
      { name: 'bob', via: 'tcp', account: false },
      { name: '小红', via: 'udp', account: false },
    ]);
    await seed.waitForLine('欢迎 bob 进入聊天室');
    seed.send('C 小红 你好 bob');
    await bob.waitFor(() => texts(bob).includes('你好 bob'), 5_000, 'the seed message on B');
    bob.send({ type: 'say', text: 'hi from B' });
    await seed.waitForLine('bob : hi from B');
    const seqs = bob.of('msg').map((m) => m.seq as number);
    expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
  });

  it('a name held on A cannot be taken on B, in any case, by either protocol; freed on A, it can', async () => {
    const { a, b } = await twoNodes();
    const alice = await hello(a.tcp, 'Alice');
    const clash = await hello(b.tcp, 'alice');
    expect(clash.of('error')[0]).toMatchObject({ code: 'name-taken' });
    const seed = await SeedPeer.open(b.udp);
    peers.push(seed);
    expect(await seed.login('Alice')).toBe('FAIL');
    alice.send({ type: 'bye' });
    await alice.waitClosed();
    await sleep(50);
    expect(await seed.login('Alice')).toBe('OK');
  });

  it('private messages reach the member on the other node, and the sender gets its copy', async () => {
    const { a, b } = await twoNodes();
    const alice = await hello(a.tcp, 'alice');
    const bob = await hello(b.tcp, 'bob');
    alice.send({ type: 'pm', to: 'bob', text: 'psst' });
    await bob.waitFor((f) => f.some((x) => x.type === 'pm' && x.text === 'psst'), 5_000, 'pm on B');
    await alice.waitFor((f) => f.some((x) => x.type === 'pm' && x.text === 'psst'), 5_000, "the sender's copy");
    alice.send({ type: 'pm', id: 9, to: 'nobody', text: 'x' });
    await alice.waitFor((f) => f.some((x) => x.type === 'error' && x.code === 'no-such-member'), 5_000, 'no-such-member');
  });

  it('a member reconnecting to the other node catches up from its last sequence number', async () => {
    const { a, b } = await twoNodes();
    const alice = await hello(a.tcp, 'alice');
    const carol = await hello(b.tcp, 'carol');
    alice.send({ type: 'say', text: 'one' });
    await carol.waitFor(() => texts(carol).includes('one'));
    const seen = carol.of('msg').at(-1)!.seq as number;
    carol.close();
    await sleep(100);
    for (const text of ['two', 'three', 'four']) alice.send({ type: 'say', text });
    await alice.waitFor(() => texts(alice).includes('four'));
    const back = await hello(a.tcp, 'carol', { since: seen });
    expect(texts(back)).toEqual(['two', 'three', 'four']);
    expect(back.of('synced')[0]).toMatchObject({ gap: false });
  });

  it("a message said twice with one client id (a client's resend after a reconnect) is numbered and delivered once", async () => {
    const { a, b } = await twoNodes();
    const alice = await hello(a.tcp, 'alice');
    const bob = await hello(b.tcp, 'bob');
    alice.send({ type: 'say', text: 'only once', cid: 'c-1' });
    alice.send({ type: 'say', text: 'only once', cid: 'c-1' });
    alice.send({ type: 'say', text: 'next', cid: 'c-2' });
    await bob.waitFor(() => texts(bob).includes('next'));
    await sleep(200);
    expect(texts(bob)).toEqual(['only once', 'next']);
    expect(texts(alice)).toEqual(['only once', 'next']);
  });

  it('Redis connections cut mid-chat: TCP members lose no message and see none twice, in sequence', async () => {
    const { a, b, prefix, logs } = await twoNodes({ ratePerSecond: 1_000, rateBurst: 1_000 });
    const alice = await hello(a.tcp, 'alice');
    const bob = await hello(b.tcp, 'bob');
    const count = 60;
    const sending = (async () => {
      for (let i = 0; i < count; i++) {
        alice.send({ type: 'say', text: `a${i}` });
        bob.send({ type: 'say', text: `b${i}` });
        await sleep(5);
      }
    })();
    await sleep(100);
    // Both connections of both nodes (commands and pub/sub).
    expect(await killConnections(redis!, prefix)).toBe(4);
    await sending;
    const expected = [...Array.from({ length: count }, (_, i) => `a${i}`), ...Array.from({ length: count }, (_, i) => `b${i}`)].sort();
    for (const member of [alice, bob]) {
      await member.waitFor(() => member.of('msg').length >= 2 * count, 10_000, `${2 * count} messages`);
      await sleep(200);
      const msgs = member.of('msg');
      expect(msgs.map((m) => m.text).sort()).toEqual(expected);
      const seqs = msgs.map((m) => m.seq as number);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
    }
    // Each member's own messages in the order it said them.
    const aliceOrder = alice.of('msg').filter((m) => m.from === 'alice').map((m) => m.text);
    expect(aliceOrder).toEqual(Array.from({ length: count }, (_, i) => `a${i}`));
    // The outage is one line on each node, and its end another.
    await sleep(600);
    for (const events of logs) {
      expect(events.filter((e) => e.msg.includes('is unreachable'))).toHaveLength(1);
      expect(events.filter((e) => e.msg.includes('is back'))).toHaveLength(1);
    }
  });

  it('Redis away for a while (a proxy that refuses it): members stay, what they said arrives once and in order when it is back; a stop does not wait for it', async () => {
    const proxy = await RedisProxy.start();
    try {
      const { a, b, logs } = await twoNodes({}, `redis://127.0.0.1:${proxy.port}`);
      const alice = await hello(a.tcp, 'alice');
      const bob = await hello(b.tcp, 'bob');
      alice.send({ type: 'say', text: 'before' });
      await bob.waitFor(() => texts(bob).includes('before'));
      proxy.cut();
      await sleep(300);
      for (const text of ['during 1', 'during 2', 'during 3']) alice.send({ type: 'say', text });
      bob.send({ type: 'say', text: 'from B meanwhile' });
      await sleep(1_000);
      expect(alice.closed).toBe(false);
      proxy.restore();
      const all = ['before', 'during 1', 'during 2', 'during 3', 'from B meanwhile'];
      for (const member of [alice, bob]) {
        await member.waitFor(() => all.every((t) => texts(member).includes(t)), 10_000, 'every message');
        await sleep(300);
        const seqs = member.of('msg').map((m) => m.seq as number);
        expect(texts(member).sort()).toEqual([...all].sort());
        expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
        expect(texts(member).filter((t) => String(t).startsWith('during'))).toEqual(['during 1', 'during 2', 'during 3']);
      }
      await sleep(600);
      expect(logs[0]!.filter((e) => e.msg.includes('is unreachable'))).toHaveLength(1);
      expect(logs[0]!.filter((e) => e.msg.includes('is back'))).toHaveLength(1);
      expect(logs[1]!.filter((e) => e.msg.includes('is unreachable'))).toHaveLength(0);
      // Away again, and A is stopped meanwhile: it stops in good time (its lease ends by itself).
      proxy.cut();
      await sleep(200);
      const started = Date.now();
      await a.chat.stop(200);
      expect(Date.now() - started).toBeLessThan(4_000);
    } finally {
      proxy.close();
    }
  });
});
