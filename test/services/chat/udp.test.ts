import { afterEach, describe, expect, it } from 'vitest';
import { canBindPrivileged, privilegedSkipReason, udpResponder } from '../../helpers/udp-source.js';
import { SeedPeer, sleep, startTestChat, stopAllChats } from './support.js';

const peers: SeedPeer[] = [];
afterEach(async () => {
  for (const peer of peers.splice(0)) peer.close();
  await stopAllChats();
});

async function peer(port: number): Promise<SeedPeer> {
  const p = await SeedPeer.open(port);
  peers.push(p);
  return p;
}

describe('chat: the seed protocol over UDP, exactly', () => {
  it('L → OK, others welcome the newcomer; C reaches every other member; E tells the others', async () => {
    const { udp } = await startTestChat();
    const alice = await peer(udp);
    const bob = await peer(udp);
    expect(await alice.login('alice')).toBe('OK');
    expect(await bob.login('bob')).toBe('OK');
    await alice.waitForLine('欢迎 bob 进入聊天室');

    bob.send('C bob 你好 🌊 with  two spaces');
    await alice.waitForLine('bob : 你好 🌊 with  two spaces');
    alice.send('C alice hi bob');
    await bob.waitForLine('alice : hi bob');

    alice.send('E alice');
    await bob.waitForLine('alice 退出了群聊');
    await sleep(50);
    // Nobody hears their own message or their own welcome.
    expect(alice.lines).toEqual(['OK', '欢迎 bob 进入聊天室', 'bob : 你好 🌊 with  two spaces']);
    expect(bob.lines).toEqual(['OK', 'alice : hi bob', 'alice 退出了群聊']);
  });

  it('FAIL for a taken name, a name containing 管理, a name with spaces or control characters', async () => {
    const { udp } = await startTestChat();
    const alice = await peer(udp);
    const other = await peer(udp);
    expect(await alice.login('alice')).toBe('OK');
    expect(await other.login('alice')).toBe('FAIL');
    expect(await other.login('管理员')).toBe('FAIL');
    expect(await other.login('超级管理')).toBe('FAIL');
    expect(await other.login('two words')).toBe('FAIL');
    expect(await other.login('tab\there')).toBe('FAIL');
    expect(await other.login('bell\u0007')).toBe('FAIL');
    expect(await other.login('rtl\u202eevil')).toBe('FAIL');
    expect(await other.login('')).toBe('FAIL');
    expect(await other.login('x'.repeat(65))).toBe('FAIL');
    expect(await other.login('小明😀')).toBe('OK');
    await alice.waitForLine('欢迎 小明😀 进入聊天室');
  });

  it('logging in again from the same address with the same name is OK and announces nothing', async () => {
    const { udp } = await startTestChat();
    const alice = await peer(udp);
    const bob = await peer(udp);
    expect(await alice.login('alice')).toBe('OK');
    expect(await bob.login('bob')).toBe('OK');
    expect(await bob.login('bob')).toBe('OK');
    await sleep(50);
    expect(alice.lines.filter((l) => l.includes('bob'))).toEqual(['欢迎 bob 进入聊天室']);
  });

  it('console lines reach everyone as 管理员消息 : text', async () => {
    const { udp, chat } = await startTestChat();
    const alice = await peer(udp);
    const bob = await peer(udp);
    await alice.login('alice');
    await bob.login('bob');
    await chat.announce('服务器五分钟后重启');
    await alice.waitForLine('管理员消息 : 服务器五分钟后重启');
    await bob.waitForLine('管理员消息 : 服务器五分钟后重启');
  });

  it('a trailing newline (nc -u) is not part of the name or text', async () => {
    const { udp } = await startTestChat();
    const alice = await peer(udp);
    const bob = await peer(udp);
    alice.send('L alice\n');
    await alice.waitForLine('OK');
    await bob.login('bob');
    alice.send('C alice hello\r\n');
    await bob.waitForLine('alice : hello');
  });
});

describe('chat: how UDP is sent', () => {
  it('batches sends from a worker thread on this Node, and the inline sender speaks the same protocol', async () => {
    const batched = await startTestChat();
    expect(batched.chat.stats.udpSendMode).toBe(process.env.WHARF_TEST_CHAT_UDP_SEND === 'inline' ? 'inline' : 'worker');
    const { udp, chat } = await startTestChat({ udpSend: 'inline' });
    expect(chat.stats.udpSendMode).toBe('inline');
    const alice = await peer(udp);
    const bob = await peer(udp);
    expect(await alice.login('alice')).toBe('OK');
    expect(await bob.login('bob')).toBe('OK');
    await alice.waitForLine('欢迎 bob 进入聊天室');
    bob.send('C bob inline 你好');
    await alice.waitForLine('bob : inline 你好');
    alice.send(Buffer.alloc(60_000, 0x43));
    bob.send('E bob');
    await alice.waitForLine('bob 退出了群聊');
    expect(chat.stats.udp?.oversized).toBe(1);
  });
});

describe('chat: the send queue is bounded', () => {
  it.skipIf(process.env.WHARF_TEST_CHAT_UDP_SEND === 'inline')('drops (and counts) what would queue past maxSendQueue', async () => {
    const { udp, chat } = await startTestChat({ maxSendQueue: 10, maxMembersPerIp: 100 });
    const members = await Promise.all(Array.from({ length: 30 }, () => SeedPeer.open(udp)));
    peers.push(...members);
    for (const [i, member] of members.entries()) expect(await member.login(`m${i}`)).toBe('OK');
    await sleep(100);
    const before = chat.stats.udp!.sendDropped;
    members[0]!.send('C m0 to 29 others through a queue of 10');
    await sleep(300);
    const heard = members.filter((m) => m.lines.includes('m0 : to 29 others through a queue of 10')).length;
    expect(heard).toBe(10);
    expect(chat.stats.udp!.sendDropped - before).toBe(19);
  });
});

describe('chat: trust rules over UDP', () => {
  it('ignores C and E for a name from any other address, and counts them', async () => {
    const { udp, chat } = await startTestChat();
    const alice = await peer(udp);
    const bob = await peer(udp);
    const mallory = await peer(udp);
    await alice.login('alice');
    await bob.login('bob');
    mallory.send('C alice I am alice, send me your password');
    mallory.send('E alice');
    bob.send('C alice bob pretending');
    bob.send('E alice');
    mallory.send('C nobody hello');
    await sleep(100);
    expect(bob.lines.some((l) => l.startsWith('alice'))).toBe(false);
    expect(alice.lines.some((l) => l.includes('pretending'))).toBe(false);
    expect(chat.stats.udp?.spoofed).toBe(4);
    expect(chat.stats.udp?.notMember).toBe(1);
    // alice is still in, and still heard.
    alice.send('C alice still here');
    await bob.waitForLine('alice : still here');
    expect(chat.memberCount()).toBe(2);
  });

  it('a flood from one address is cut to its rate; everyone else is still served', async () => {
    const { udp, chat } = await startTestChat({ ratePerSecond: 20, rateBurst: 40 });
    const flooder = await peer(udp);
    const alice = await peer(udp);
    const bob = await peer(udp);
    await flooder.login('flooder');
    await alice.login('alice');
    await bob.login('bob');
    for (let i = 0; i < 2_000; i++) flooder.send(`C flooder spam ${i}`);
    alice.send('C alice through the flood');
    await bob.waitForLine('alice : through the flood');
    await sleep(200);
    const spam = bob.lines.filter((l) => l.startsWith('flooder : spam')).length;
    expect(spam).toBeLessThanOrEqual(60);
    expect(spam).toBeGreaterThan(0);
    expect(chat.stats.udp?.rateLimited).toBeGreaterThan(1_900);
  });

  it('drops datagrams of 0 bytes, 65,507 bytes, invalid UTF-8 and unknown commands without hurting anyone', async () => {
    const { udp, chat } = await startTestChat();
    const alice = await peer(udp);
    const bob = await peer(udp);
    await alice.login('alice');
    await bob.login('bob');
    alice.send(Buffer.alloc(0));
    alice.send(Buffer.concat([Buffer.from('C alice '), Buffer.alloc(65_507 - 8, 0x61)]));
    alice.send(Buffer.from([0x43, 0x20, 0x61, 0x6c, 0x69, 0x63, 0x65, 0x20, 0xff, 0xfe, 0xc3]));
    alice.send('X what is this');
    alice.send('C alice');
    alice.send('L');
    alice.send(`C alice ${'長'.repeat(2_000)}`); // 6,000 bytes: over the 4,096-byte message limit
    alice.send('C alice escape \u001b[2J attempt');
    alice.send('C alice after the junk');
    await bob.waitForLine('alice : after the junk');
    await sleep(50);
    expect(bob.lines).toEqual(['OK', 'alice : after the junk']);
    const stats = chat.stats.udp!;
    expect(stats.oversized).toBe(1);
    expect(stats.notUtf8).toBe(1);
    expect(stats.malformed).toBe(4); // empty, X, C without text, L without name
    expect(stats.badText).toBe(2);
  });

  it('members who vanish without E expire, everyone is told, and they come back by speaking', async () => {
    const { udp, chat } = await startTestChat({ memberIdleMs: 300 });
    const alice = await peer(udp);
    const bob = await peer(udp);
    await alice.login('alice');
    await bob.login('bob');
    // bob keeps talking; alice says nothing.
    const keepAlive = setInterval(() => bob.send('C bob tick'), 100);
    try {
      await bob.waitForLine('alice 退出了群聊（长时间没有消息）', 3_000);
      expect(chat.stats.udp?.expired).toBe(1);
      alice.send('C alice I was only reading');
      await bob.waitForLine('欢迎 alice 进入聊天室');
      await bob.waitForLine('alice : I was only reading');
      expect(bob.lines.indexOf('欢迎 alice 进入聊天室')).toBeLessThan(bob.lines.indexOf('alice : I was only reading'));
      expect(chat.stats.udp?.readmitted).toBe(1);
    } finally {
      clearInterval(keepAlive);
    }
  });

  it('an expired name is not handed back to another address by speaking', async () => {
    const { udp, chat } = await startTestChat({ memberIdleMs: 200 });
    const alice = await peer(udp);
    const mallory = await peer(udp);
    await alice.login('alice');
    await sleep(600);
    expect(chat.memberCount()).toBe(0);
    mallory.send('C alice it is me');
    await sleep(100);
    expect(chat.memberCount()).toBe(0);
    expect(chat.stats.udp?.notMember).toBe(1);
  });

  it('1,000 members joining and leaving at once: all get in, all get out, presence is batched', async () => {
    const { udp, chat } = await startTestChat({ maxMembersPerIp: 2_000, ratePerSecond: 1_000, rateBurst: 1_000 });
    const watcher = await peer(udp);
    await watcher.login('watcher');
    const crowd = await Promise.all(Array.from({ length: 1_000 }, () => SeedPeer.open(udp)));
    peers.push(...crowd);
    crowd.forEach((p, i) => p.send(`L member${i}`));
    await Promise.all(crowd.map((p) => p.waitFor((lines) => lines.includes('OK'), 20_000, 'OK')));
    expect(chat.memberCount()).toBe(1_001);
    const welcomed = () => new Set(watcher.lines.filter((l) => l.startsWith('欢迎 ')).flatMap((l) => l.slice(3, -6).split('、')));
    await watcher.waitFor(() => welcomed().size === 1_000, 20_000, 'every welcome');
    const sentAfterJoins = chat.stats.udp!.deliveries;
    crowd.forEach((p, i) => p.send(`E member${i}`));
    const gone = () => new Set(watcher.lines.filter((l) => l.endsWith(' 退出了群聊')).flatMap((l) => l.slice(0, -6).split('、')));
    await watcher.waitFor(() => gone().size === 1_000, 20_000, 'every leave');
    expect(chat.memberCount()).toBe(1);
    // The seed would have sent about 1,000²/2 welcomes; batching sends a few lines per member.
    expect(sentAfterJoins).toBeLessThan(100_000);
    watcher.send('C watcher still working');
    const late = await peer(udp);
    expect(await late.login('late')).toBe('OK');
    watcher.send('C watcher hello late');
    await late.waitForLine('watcher : hello late');
  }, 60_000);
});

describe('chat over UDP, against reflection', () => {
  it.skipIf(!canBindPrivileged)(
    `does not let a datagram from another responder's port (echo, 7) join or talk${canBindPrivileged ? '' : ` (skipped: ${privilegedSkipReason})`}`,
    async () => {
      const { udp } = await startTestChat();
      const alice = await peer(udp);
      expect(await alice.login('alice')).toBe('OK');
      const echo = await udpResponder(7, { echo: true });
      try {
        echo.socket.send('L mallory', udp, '127.0.0.1');
        echo.socket.send('C alice forged', udp, '127.0.0.1');
        await sleep(500);
        expect(echo.received).toBe(0);
        expect(alice.lines.filter((line) => line.includes('mallory') || line.includes('forged'))).toEqual([]);
      } finally {
        await echo.close();
      }
    },
  );
});
