/**
 * `wharf chat serve` on two nodes (two processes, different ports) sharing Redis and PostgreSQL,
 * and `--workers 2` over Redis: what docs/scaling.md promises, end to end with the built command.
 */
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { startWharf, type RunningWharf } from '../../helpers/cli.js';
import { testDatabases, type FreshDatabase } from '../../store/databases.js';
import { RawChat, SeedPeer, sleep } from './support.js';
import { deletePrefix, nodesOfMembers, redisSkipReason, REDIS_URL, testRedis, uniquePrefix } from './redis-support.js';

const redisSkip = await redisSkipReason();
const postgres = testDatabases.find((d) => d.dialect === 'postgres')!;
const skip = redisSkip ?? (postgres.available ? undefined : postgres.label);
const redis = skip ? undefined : await testRedis();

/** Short, so a dead node is noticed quickly: its members leave within 4/3 of this. */
const LEASE_MS = 1_500;

const servers: RunningWharf[] = [];
const raws: RawChat[] = [];
const peers: SeedPeer[] = [];
const prefixes: string[] = [];
const databases: FreshDatabase[] = [];

afterEach(async () => {
  for (const r of raws.splice(0)) r.close();
  for (const p of peers.splice(0)) p.close();
  await Promise.all(servers.splice(0).map((s) => s.stop()));
  for (const prefix of prefixes.splice(0)) await deletePrefix(redis!, prefix);
  await Promise.all(databases.splice(0).map((d) => d.drop()));
});
afterAll(async () => {
  await redis?.close();
});

function chatArgs(prefix: string, db: string | undefined, extra: string[] = []): string[] {
  return ['chat', 'serve', '--no-console', '--redis', REDIS_URL, ...(db ? ['--db', db] : []), '-p', '0', '--tcp-port', '0', '--set', `chat.redisKeyPrefix=${prefix}`, '--set', `chat.nodeLeaseMs=${LEASE_MS}`, ...extra];
}

async function node(prefix: string, db: string, extra: string[] = []): Promise<RunningWharf> {
  const server = await startWharf(chatArgs(prefix, db, extra), { expectLines: 2 });
  servers.push(server);
  return server;
}

async function hello(port: number, name: string, extra: Record<string, unknown> = {}): Promise<RawChat> {
  const r = await RawChat.connect(port);
  raws.push(r);
  r.send({ type: 'hello', id: 1, name, ...extra });
  await r.waitFor((frames) => frames.some((f) => f.type === 'synced' || f.type === 'error'), 10_000, `welcome of ${name}`);
  return r;
}

async function seed(port: number, name: string): Promise<SeedPeer> {
  const p = await SeedPeer.open(port);
  peers.push(p);
  expect(await p.login(name)).toBe('OK');
  return p;
}

const texts = (r: RawChat) => r.of('msg').map((m) => m.text);
const leftNames = (r: RawChat) => r.of('presence').flatMap((f) => (f.left as Array<{ name: string }>).map((m) => m.name));

async function freshPostgres(): Promise<string> {
  const database = await postgres.fresh();
  databases.push(database);
  return database.url!;
}

describe.skipIf(skip !== undefined)(`chat on two nodes over Redis and PostgreSQL${skip ? ` (skipped: ${skip})` : ''}`, () => {
  it('a seed member on A and a TCP member on B chat both ways; names are unique over both; history and catch-up on the other node; kill -9 of A frees its members within the bound', async () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const db = await freshPostgres();
    const a = await node(prefix, db);
    const b = await node(prefix, db);

    const xiaohong = await seed(a.port('chat', 'udp'), '小红');
    const bob = await hello(b.port('chat', 'tcp'), 'bob');
    expect(bob.of('welcome')[0]!.members).toEqual([
      { name: 'bob', via: 'tcp', account: false },
      { name: '小红', via: 'udp', account: false },
    ]);
    xiaohong.send('C 小红 大家好');
    await bob.waitFor(() => texts(bob).includes('大家好'), 5_000, 'the seed member heard on B');
    bob.send({ type: 'say', text: 'hello from B' });
    await xiaohong.waitForLine('bob : hello from B');

    // Taken on A: refused on B, whatever the protocol.
    const clash = await hello(b.port('chat', 'tcp'), '小红');
    expect(clash.of('error')[0]).toMatchObject({ code: 'name-taken' });
    const seedClash = await SeedPeer.open(b.port('chat', 'udp'));
    peers.push(seedClash);
    expect(await seedClash.login('bob')).toBe('FAIL');

    // carol leaves A, misses three messages, and comes back on B with what she saw last.
    const carol = await hello(a.port('chat', 'tcp'), 'carol');
    const seen = carol.of('msg').at(-1)!.seq as number;
    carol.close();
    await sleep(200);
    for (const text of ['one', 'two', 'three']) bob.send({ type: 'say', text });
    await bob.waitFor(() => texts(bob).includes('three'));
    const back = await hello(b.port('chat', 'tcp'), 'carol', { since: seen });
    expect(texts(back)).toEqual(['one', 'two', 'three']);
    expect(back.of('synced')[0]).toMatchObject({ gap: false });
    // The whole history, asked of B, holds what was said through A.
    back.send({ type: 'history', id: 2, limit: 50 });
    await back.waitFor(() => back.of('history').length > 0);
    expect((back.of('history')[0]!.messages as Array<{ text: string }>).map((m) => m.text)).toEqual(['大家好', 'hello from B', 'one', 'two', 'three']);

    // The durable history is in PostgreSQL, each message once.
    await sleep(300);
    const client = new pg.Client({ connectionString: db });
    await client.connect();
    const rows = await client.query<{ seq: string; text: string }>("select seq, text from chat_messages where room = 'lobby' order by seq");
    await client.end();
    expect(rows.rows.map((r) => r.text)).toEqual(['大家好', 'hello from B', 'one', 'two', 'three']);
    expect(rows.rows.map((r) => Number(r.seq))).toEqual([1, 2, 3, 4, 5]);

    // A dies without a word; its members (the seed member, and carol, back on A) leave, and B is told.
    const dave = await hello(a.port('chat', 'tcp'), 'dave');
    expect(dave.of('welcome')[0]!.members).toHaveLength(4);
    const killedAt = Date.now();
    await a.stop('SIGKILL');
    await bob.waitFor(() => leftNames(bob).includes('小红') && leftNames(bob).includes('dave'), 10_000, "A's members leaving");
    const took = Date.now() - killedAt;
    expect(took).toBeLessThan(LEASE_MS + LEASE_MS / 3 + 1_000);
    bob.send({ type: 'who', id: 3 });
    await bob.waitFor(() => bob.of('members').length > 0);
    expect((bob.of('members')[0]!.members as Array<{ name: string }>).map((m) => m.name)).toEqual(['bob', 'carol']);
    // The name is free again on B.
    const again = await SeedPeer.open(b.port('chat', 'udp'));
    peers.push(again);
    expect(await again.login('小红')).toBe('OK');
  }, 60_000);

  it('--workers 2: members spread over both workers share one room', async () => {
    const prefix = uniquePrefix();
    prefixes.push(prefix);
    const db = await freshPostgres();
    const server = await node(prefix, db, ['--workers', '2']);
    const tcp = server.port('chat', 'tcp');
    // Both workers listen on one UDP port (the cluster shares the socket).
    const udpPorts = new Set(server.lines.filter((l) => l.startsWith('chat udp://')).map((l) => Number(/:(\d+)$/.exec(l)![1])));
    expect(udpPorts.size).toBe(1);
    const members: RawChat[] = [];
    for (let i = 0; i < 4; i++) members.push(await hello(tcp, `m${i}`));
    const seeds: SeedPeer[] = [];
    for (let i = 0; i < 6; i++) seeds.push(await seed(server.port('chat', 'udp'), `小明${i}`));
    const holders = await nodesOfMembers(redis!, prefix);
    expect(new Set(members.map((_, i) => holders.get(`m${i}`))).size).toBe(2);
    // The kernel hands each datagram to either worker: seed members end up held by both.
    expect(new Set(seeds.map((_, i) => holders.get(`小明${i}`))).size).toBe(2);
    for (let i = 0; i < 4; i++) members[i]!.send({ type: 'say', text: `from m${i}` });
    // Each seed member's C reaches whichever worker; the one that does not hold it speaks for it.
    for (let i = 0; i < 6; i++) seeds[i]!.send(`C 小明${i} seed ${i} says hi`);
    const all = [...members.map((_, i) => `from m${i}`), ...seeds.map((_, i) => `seed ${i} says hi`)];
    for (const member of members) {
      await member.waitFor(() => all.every((t) => texts(member).includes(t)), 5_000, 'every message');
      const seqs = member.of('msg').map((m) => m.seq as number);
      expect(new Set(seqs).size).toBe(seqs.length);
      expect(seqs).toHaveLength(all.length);
    }
    for (const peer of seeds) for (let i = 0; i < 4; i++) await peer.waitForLine(`m${i} : from m${i}`);
  }, 60_000);
});

describe('chat --workers without Redis', () => {
  it('refuses with one sentence that says how to share the room', async () => {
    const server = startWharf(['chat', 'serve', '--no-console', '--workers', '2', '-p', '0', '--tcp-port', '0'], { expectLines: 2, timeoutMs: 20_000 });
    await expect(server).rejects.toThrow(/--redis redis:\/\/127\.0\.0\.1:6379/);
  }, 30_000);
});
