import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ChatClient, ChatError } from '../../../src/services/chat/client.js';
import type { ChatMessage } from '../../../src/services/chat/protocol.js';
import { openStore, type Store } from '../../../src/store/index.js';
import { RawChat, SeedPeer, sleep, startTestChat, stopAllChats } from './support.js';

const clients: ChatClient[] = [];
const peers: SeedPeer[] = [];
const raws: RawChat[] = [];
const stores: Store[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close().catch(() => {})));
  for (const p of peers.splice(0)) p.close();
  for (const r of raws.splice(0)) r.close();
  await stopAllChats();
  await Promise.all(stores.splice(0).map((s) => s.close()));
});

function client(port: number, name: string, extra: Partial<ConstructorParameters<typeof ChatClient>[0]> = {}): ChatClient {
  const c = new ChatClient({ port, name, timeoutMs: 5_000, ...extra });
  clients.push(c);
  return c;
}

/** Messages a client is shown, collected. */
function collect(c: ChatClient): ChatMessage[] {
  const seen: ChatMessage[] = [];
  c.on('message', (m) => seen.push(m));
  return seen;
}

async function until(condition: () => boolean, timeoutMs = 5_000, what = 'condition'): Promise<void> {
  const start = Date.now();
  while (!condition()) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

async function seedPeer(port: number): Promise<SeedPeer> {
  const p = await SeedPeer.open(port);
  peers.push(p);
  return p;
}

describe('chat: wharf protocol over TCP, one room with the seed members', () => {
  it('numbers messages; TCP and UDP members see each other; nobody sees a message twice', async () => {
    const { tcp, udp } = await startTestChat();
    const seed = await seedPeer(udp);
    expect(await seed.login('小红')).toBe('OK');
    const alice = client(tcp, 'alice');
    const aliceSaw = collect(alice);
    const welcome = await alice.connect();
    expect(welcome.room).toBe('lobby');
    expect(welcome.members).toEqual([
      { name: 'alice', via: 'tcp', account: false },
      { name: '小红', via: 'udp', account: false },
    ]);
    await seed.waitForLine('欢迎 alice 进入聊天室');

    const said = await alice.say('大家好 👋');
    expect(said.seq).toBe(1);
    await seed.waitForLine('alice : 大家好 👋');
    seed.send('C 小红 你好 alice');
    await until(() => aliceSaw.length === 2, 5_000, 'the seed member\'s message');
    expect(aliceSaw.map((m) => [m.seq, m.from, m.text])).toEqual([
      [1, 'alice', '大家好 👋'],
      [2, '小红', '你好 alice'],
    ]);
    expect(await alice.who()).toHaveLength(2);
  });

  it('shows the last N messages on join, and /history pages further back', async () => {
    const { tcp } = await startTestChat({ udp: false, historyOnJoin: 3 });
    const alice = client(tcp, 'alice');
    await alice.connect();
    for (let i = 1; i <= 5; i++) await alice.say(`m${i}`);
    const bob = client(tcp, 'bob');
    const bobSaw = collect(bob);
    await bob.connect();
    expect(bobSaw.map((m) => m.text)).toEqual(['m3', 'm4', 'm5']);
    const page = await bob.history(2, 3);
    expect(page.messages.map((m) => m.text)).toEqual(['m1', 'm2']);
    expect((await bob.history(50)).messages).toHaveLength(5);
  });

  it('private messages: to a TCP member, to a seed member, and to nobody', async () => {
    const { tcp, udp } = await startTestChat();
    const seed = await seedPeer(udp);
    await seed.login('seedy');
    const alice = client(tcp, 'alice');
    const bob = client(tcp, 'bob');
    const carol = client(tcp, 'carol');
    const bobPrivate: string[] = [];
    const carolPrivate: string[] = [];
    bob.on('private', (pm) => bobPrivate.push(`${pm.from}>${pm.to}:${pm.text}`));
    carol.on('private', (pm) => carolPrivate.push(pm.text));
    await Promise.all([alice.connect(), bob.connect(), carol.connect()]);
    await alice.pm('bob', '只给你');
    await until(() => bobPrivate.length === 1);
    expect(bobPrivate).toEqual(['alice>bob:只给你']);
    await alice.pm('seedy', 'psst');
    await seed.waitForLine('alice (私聊) : psst');
    await expect(alice.pm('nobody', 'hello?')).rejects.toMatchObject({ chatCode: 'no-such-member' });
    await sleep(50);
    expect(carolPrivate).toEqual([]);
  });

  it('named rooms: messages stay in their room; seed members stay in the lobby', async () => {
    const { tcp, udp } = await startTestChat();
    const seed = await seedPeer(udp);
    await seed.login('seedy');
    const alice = client(tcp, 'alice', { room: 'kitchen' });
    const bob = client(tcp, 'bob');
    const bobSaw = collect(bob);
    const aliceSaw = collect(alice);
    await alice.connect();
    await bob.connect();
    expect(alice.room).toBe('kitchen');
    await alice.say('only the kitchen hears this');
    await bob.say('lobby talk');
    await seed.waitForLine('bob : lobby talk');
    expect(seed.lines.some((l) => l.includes('kitchen hears'))).toBe(false);
    expect(bobSaw.map((m) => m.text)).toEqual(['lobby talk']);
    const joined = await bob.join('kitchen');
    expect(joined.members.map((m) => m.name).sort()).toEqual(['alice', 'bob']);
    // Joining shows the new room's recent history.
    expect(bobSaw.map((m) => `${m.room}:${m.text}`)).toEqual(['lobby:lobby talk', 'kitchen:only the kitchen hears this']);
    await seed.waitForLine('bob 退出了群聊');
    await bob.say('hi alice');
    await until(() => aliceSaw.some((m) => m.text === 'hi alice'));
  });

  it('a reconnecting client gets exactly what it missed, once, and what it said while away is sent once', async () => {
    const { tcp } = await startTestChat({ udp: false });
    const alice = client(tcp, 'alice');
    const bob = client(tcp, 'bob');
    const aliceSaw = collect(alice);
    const bobSaw = collect(bob);
    await alice.connect();
    await bob.connect();
    await bob.say('before');
    await until(() => aliceSaw.length === 1);
    const reconnected = new Promise<void>((resolve) => alice.once('reconnected', () => resolve()));
    alice.dropConnection();
    const saidWhileAway = alice.say('said while away');
    for (let i = 1; i <= 5; i++) await bob.say(`missed ${i}`);
    await reconnected;
    await saidWhileAway;
    await bob.say('after');
    await until(() => aliceSaw.some((m) => m.text === 'after'));
    const texts = aliceSaw.map((m) => m.text);
    expect(texts.slice(0, 6)).toEqual(['before', 'missed 1', 'missed 2', 'missed 3', 'missed 4', 'missed 5']);
    expect(texts.slice(6)).toEqual(['said while away', 'after']);
    const seqs = aliceSaw.map((m) => m.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => a - b));
    expect(new Set(seqs).size).toBe(seqs.length);
    await until(() => bobSaw.some((m) => m.text === 'after'));
    expect(bobSaw.filter((m) => m.text === 'said while away')).toHaveLength(1);
  });

  it('without its session token, nobody can take a name that is held, even by a half-dead connection', async () => {
    const { tcp } = await startTestChat({ udp: false });
    const alice = client(tcp, 'alice');
    const bob = client(tcp, 'bob');
    const bobPresence: string[] = [];
    bob.on('presence', (p) => bobPresence.push(...p.joined.filter((j) => j.name !== 'bob').map((j) => `+${j.name}`), ...p.left.map((l) => `-${l.name}`)));
    await bob.connect();
    await alice.connect();
    await until(() => bobPresence.includes('+alice'));
    const impostor = await RawChat.connect(tcp);
    raws.push(impostor);
    impostor.send({ type: 'hello', name: 'alice', resume: 'not-the-token' });
    await impostor.waitFor((f) => f.some((x) => x.type === 'error'));
    expect(impostor.of('error')[0]).toMatchObject({ code: 'name-taken' });
    await sleep(100);
    expect(bobPresence).toEqual(['+alice']);
    expect(alice.connected).toBe(true);
  });

  it('resume: a raw client comes back with its token while its old connection is still open', async () => {
    const { tcp } = await startTestChat({ udp: false });
    const bob = client(tcp, 'bob');
    const bobPresence: string[] = [];
    bob.on('presence', (p) => bobPresence.push(...p.joined.filter((j) => j.name !== 'bob').map((j) => `+${j.name}`), ...p.left.map((l) => `-${l.name}`)));
    await bob.connect();
    const first = await RawChat.connect(tcp);
    raws.push(first);
    first.send({ type: 'hello', name: 'alice' });
    await first.waitFor((f) => f.some((x) => x.type === 'synced'));
    const token = first.of('welcome')[0]!.token as string;
    await bob.say('while alice is half-dead');
    const second = await RawChat.connect(tcp);
    raws.push(second);
    second.send({ type: 'hello', name: 'alice', resume: token, since: 0 });
    await second.waitFor((f) => f.some((x) => x.type === 'synced'));
    expect(second.of('msg').map((m) => m.text)).toEqual(['while alice is half-dead']);
    await first.waitClosed();
    await sleep(100);
    expect(bobPresence).toEqual(['+alice']);
  });
});

describe('chat: history in the store and accounts', () => {
  it('history survives a restart and numbering continues', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wharf-chat-store-'));
    try {
      const store1 = await openStore({ dataDir });
      stores.push(store1);
      const first = await startTestChat({ udp: false }, { resources: { store: store1 } });
      const alice = client(first.tcp, 'alice');
      await alice.connect();
      await alice.say('remember me');
      await alice.say('我也是');
      await alice.close();
      await stopAllChats();
      await store1.close();
      stores.splice(0);

      const store2 = await openStore({ dataDir });
      stores.push(store2);
      const second = await startTestChat({ udp: false }, { resources: { store: store2 } });
      const bob = client(second.tcp, 'bob');
      const bobSaw = collect(bob);
      await bob.connect();
      expect(bobSaw.map((m) => [m.seq, m.text])).toEqual([
        [1, 'remember me'],
        [2, '我也是'],
      ]);
      expect((await bob.say('after the restart')).seq).toBe(3);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a registered name needs its password; seed clients cannot take it', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'wharf-chat-accounts-'));
    try {
      const store = await openStore({ dataDir });
      stores.push(store);
      await store.accounts.add('carol', 'correct horse');
      const { tcp, udp } = await startTestChat({}, { resources: { store } });
      const seed = await seedPeer(udp);
      expect(await seed.login('carol')).toBe('FAIL');
      await expect(client(tcp, 'carol', { reconnect: false }).connect()).rejects.toMatchObject({ chatCode: 'name-reserved' });
      await expect(client(tcp, 'carol', { password: 'wrong', reconnect: false }).connect()).rejects.toMatchObject({ chatCode: 'auth-failed' });
      const carol = client(tcp, 'carol', { password: 'correct horse' });
      const welcome = await carol.connect();
      expect(welcome.account).toBe(true);
      expect(welcome.members).toEqual([{ name: 'carol', via: 'tcp', account: true }]);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a name is one member across UDP and TCP', async () => {
    const { tcp, udp } = await startTestChat();
    const seed = await seedPeer(udp);
    await seed.login('dave');
    await expect(client(tcp, 'dave', { reconnect: false }).connect()).rejects.toBeInstanceOf(ChatError);
    const erin = client(tcp, 'erin');
    await erin.connect();
    const other = await seedPeer(udp);
    expect(await other.login('erin')).toBe('FAIL');
  });
});

describe('chat: bad input over TCP', () => {
  it('answers bad frames with an error and closes after too many; an oversized frame closes at once', async () => {
    const { tcp, chat } = await startTestChat({ udp: false, maxFrameBytes: 1024, maxTextBytes: 500 });
    const raw = await RawChat.connect(tcp);
    raws.push(raw);
    raw.sendRaw(Buffer.concat([Buffer.from([0, 0, 0, 5]), Buffer.from('{nope')]));
    raw.send({ type: 'teleport' });
    raw.send({ type: 'say', text: 'before hello' });
    await raw.waitFor((f) => f.filter((x) => x.type === 'error').length === 3);
    expect(raw.of('error').map((e) => e.code)).toEqual(['bad-request', 'bad-request', 'not-joined']);
    raw.send({ type: 'hello', name: 'bad name' });
    raw.send({ type: 'hello', name: 'ok', room: 'a\u0000b' });
    raw.send({ type: 'hello', name: 'ok' });
    await raw.waitFor((f) => f.some((x) => x.type === 'synced'));
    raw.send({ type: 'say', text: '\u001b[31mred' });
    raw.send({ type: 'say', text: 'x'.repeat(400) + '長'.repeat(50) });
    await raw.waitFor((f) => f.filter((x) => x.type === 'error').length === 7);
    expect(raw.of('error').slice(3).map((e) => e.code)).toEqual(['bad-name', 'bad-room', 'bad-text', 'bad-text']);
    raw.sendRaw(Buffer.from([0, 0, 0x10, 0]));
    await raw.waitClosed();
    expect(chat.stats.tcp!.badFrames).toBe(3);

    const spammer = await RawChat.connect(tcp);
    raws.push(spammer);
    for (let i = 0; i < 12; i++) spammer.sendRaw(Buffer.concat([Buffer.from([0, 0, 0, 1]), Buffer.from('x')]));
    await spammer.waitClosed();
  });

  it('rate-limits a flooding connection with one complaint a second', async () => {
    const { tcp } = await startTestChat({ udp: false, ratePerSecond: 10, rateBurst: 10 });
    const raw = await RawChat.connect(tcp);
    raws.push(raw);
    raw.send({ type: 'hello', name: 'flood' });
    await raw.waitFor((f) => f.some((x) => x.type === 'synced'));
    for (let i = 0; i < 200; i++) raw.send({ type: 'say', text: `spam ${i}` });
    await raw.waitFor((f) => f.some((x) => x.type === 'error'));
    await sleep(200);
    expect(raw.of('msg').length).toBeLessThanOrEqual(15);
    expect(raw.of('error').filter((e) => e.code === 'rate-limited')).toHaveLength(1);
  });

  it('a client that stops reading is dropped within a bound and does not slow the room', async () => {
    const { tcp, chat } = await startTestChat({ udp: false, ratePerSecond: 100_000, rateBurst: 100_000, maxWriteQueueBytes: 512 * 1024, slowReaderMs: 1_000 });
    const sleeper = await RawChat.connect(tcp);
    raws.push(sleeper);
    sleeper.send({ type: 'hello', name: 'sleeper' });
    await sleeper.waitFor((f) => f.some((x) => x.type === 'synced'));
    sleeper.socket.pause(); // reads nothing from now on
    const talker = client(tcp, 'talker');
    const listener = client(tcp, 'listener');
    const heard = collect(listener);
    await talker.connect();
    await listener.connect();
    // 16 MB: more than the kernel's socket buffers on loopback plus the bound.
    const text = 'y'.repeat(4_000);
    const started = Date.now();
    const inFlight = new Set<Promise<ChatMessage>>();
    for (let i = 0; i < 4_000; i++) {
      const said = talker.say(`${i} ${text}`);
      inFlight.add(said);
      void said.finally(() => inFlight.delete(said));
      if (inFlight.size >= 32) await Promise.race(inFlight);
    }
    await Promise.all(inFlight);
    await until(() => heard.length >= 4_000, 30_000, 'every message at the listener');
    const elapsed = Date.now() - started;
    expect(chat.stats.tcp!.slowDropped).toBe(1);
    expect(chat.memberCount()).toBe(2);
    expect(heard.map((m) => m.seq)).toEqual(Array.from({ length: 4_000 }, (_, i) => i + 1));
    expect(elapsed).toBeLessThan(30_000);
  }, 45_000);
});
