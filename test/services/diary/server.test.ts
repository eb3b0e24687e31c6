import dgram from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { WharfError } from '../../../src/core/errors.js';
import { DiaryClient } from '../../../src/services/diary/client.js';
import { DiaryStore } from '../../../src/services/diary/diary-store.js';
import { CLEARED_REPLY, READ_FOOTER, READ_HEADER, SEED_REPLIES, WHARF_MAGIC, decodeServerMessage, encodeMessage, stampedLine, type ServerMessage } from '../../../src/services/diary/protocol.js';
import { waitFor } from '../../helpers/net.js';
import { allEntries, openClient, seedSocket, startDiary, stopAll } from './support.js';

afterEach(() => stopAll());

const STAMP = /^\[\w{3} \w{3} [ \d]\d \d\d:\d\d:\d\d \d{4}\] /;

async function codeOf(promise: Promise<unknown>): Promise<string> {
  try {
    await promise;
  } catch (error) {
    if (error instanceof WharfError) return error.code;
    throw error;
  }
  return 'resolved';
}

describe('the seed protocol', () => {
  it('stamps an entry, stores it and answers the stored line; the very first entry is kept', async () => {
    const { port, store } = await startDiary();
    const seed = await seedSocket(port);
    const answer = await seed.ask('第一篇日记：今天天气很好');
    expect(answer).toMatch(STAMP);
    expect(answer.replace(STAMP, '')).toBe('第一篇日记：今天天气很好');
    const rows = await allEntries(store);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ diary: '', text: '第一篇日记：今天天气很好', client_id: null, account: null, address: `127.0.0.1:${seed.socket.address().port}` });
  });

  it('answers -r with the diary between the header and 28 dashes, byte for byte, in any case', async () => {
    const { port } = await startDiary();
    const seed = await seedSocket(port);
    expect(await seed.ask('-r')).toBe(`${READ_HEADER}\n${READ_FOOTER}`);
    const first = await seed.ask('one');
    const second = await seed.ask('二');
    expect(await seed.ask('-R')).toBe(`${READ_HEADER}\n${first}\n${second}\n${READ_FOOTER}`);
    expect(await seed.ask('-r\n')).toBe(`${READ_HEADER}\n${first}\n${second}\n${READ_FOOTER}`);
  });

  it('stamps in the configured time zone', async () => {
    const { port, store } = await startDiary({ timeZone: 'Asia/Shanghai' });
    const seed = await seedSocket(port);
    const answer = await seed.ask('东八区');
    const [row] = await new DiaryStore(store).page('', { limit: 1 });
    expect(answer).toBe(stampedLine(row!.ms, '东八区', 'Asia/Shanghai'));
  });

  it('cuts a long -r answer to the newest entries that fit, and says so', async () => {
    const { port } = await startDiary();
    const seed = await seedSocket(port);
    for (let i = 0; i < 60; i++) await seed.ask(`entry number ${i}`);
    const answer = await seed.ask('-r');
    expect(Buffer.byteLength(answer)).toBeLessThanOrEqual(1024);
    const lines = answer.split('\n');
    const shown = lines.length - 2;
    expect(lines[0]).toBe(`${READ_HEADER}(newest ${shown} of 60)`);
    expect(lines.at(-2)).toMatch(/entry number 59$/);
    expect(lines[1]).toMatch(new RegExp(`entry number ${60 - shown}$`));
    expect(lines.at(-1)).toBe(READ_FOOTER);
  });

  it('refuses -c from an anonymous client by default, with an answer that says why', async () => {
    const { port, store } = await startDiary();
    const seed = await seedSocket(port);
    await seed.ask('keep me');
    expect(await seed.ask('-c')).toBe(SEED_REPLIES.clearRefused);
    expect(await allEntries(store)).toHaveLength(1);
  });

  it("with anonymousClear, -c empties the public diary as the seed's did", async () => {
    const { port, store } = await startDiary({ anonymousClear: true });
    const seed = await seedSocket(port);
    await seed.ask('gone soon');
    expect(await seed.ask('-C')).toBe(CLEARED_REPLY);
    expect(await allEntries(store)).toHaveLength(0);
    expect(await seed.ask('-r')).toBe(`${READ_HEADER}\n${READ_FOOTER}`);
  });
});

describe("wharf's protocol", () => {
  async function withAccounts() {
    const fixture = await startDiary();
    await fixture.store.accounts.add('alice', 'alice-password');
    await fixture.store.accounts.add('bob', 'bob-password');
    await fixture.store.accounts.add('boss', 'boss-password', { role: 'admin' });
    return fixture;
  }

  it('writes, reads and pages; the seed clients see the same public diary', async () => {
    const { port } = await startDiary();
    const client = await openClient(port);
    const written = await client.write('hello from wharf 你好');
    expect(written).toMatchObject({ seq: 1, text: 'hello from wharf 你好' });
    expect(written.time).toBeInstanceOf(Date);
    await Promise.all(Array.from({ length: 200 }, (_, i) => client.write(`bulk ${i} ${'字'.repeat(20)}`)));
    const pages: number[] = [];
    for await (const page of client.pages({ pageBytes: 600 })) pages.push(page.length);
    expect(pages.length).toBeGreaterThan(5);
    expect(pages.reduce((a, b) => a + b, 0)).toBe(201);
    const seed = await seedSocket(port);
    expect(await seed.ask('-r')).toContain('(newest');
    const entries = await client.read({ since: new Date(Date.now() - 60_000) });
    expect(entries[0]).toMatchObject({ id: 1, text: 'hello from wharf 你好' });
    expect(entries[0]!.by).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(await client.read({ since: new Date(Date.now() + 60_000) })).toEqual([]);
  });

  it('keeps one diary per account: only its owner writes it; its owner and admins read and clear it', async () => {
    const { port } = await withAccounts();
    const alice = await openClient(port);
    expect(await alice.login('alice', 'alice-password')).toEqual({ name: 'alice', role: 'user' });
    await alice.write('my secret', { diary: 'alice' });
    await alice.write('to everyone');
    expect((await alice.read({ diary: 'alice' })).map((e) => [e.text, e.by])).toEqual([['my secret', 'alice']]);
    expect((await alice.read()).map((e) => [e.text, e.by])).toEqual([['to everyone', 'alice']]);

    const anonymous = await openClient(port);
    expect(await codeOf(anonymous.write('sneaky', { diary: 'alice' }))).toBe('EFORBIDDEN');
    expect(await codeOf(anonymous.read({ diary: 'alice' }))).toBe('EFORBIDDEN');
    // The refused entry took its number: the next one goes through.
    await anonymous.write('fine');

    const bob = await openClient(port);
    await bob.login('bob', 'bob-password');
    expect(await codeOf(bob.read({ diary: 'alice' }))).toBe('EFORBIDDEN');
    expect(await codeOf(bob.clear({ diary: 'alice' }))).toBe('EFORBIDDEN');
    expect(await codeOf(bob.clear())).toBe('EFORBIDDEN');
    expect(await codeOf(anonymous.clear())).toBe('EFORBIDDEN');

    const root = await openClient(port);
    await root.login('boss', 'boss-password');
    expect((await root.read({ diary: 'alice' })).map((e) => e.text)).toEqual(['my secret']);
    expect(await alice.clear({ diary: 'alice' })).toBe(1);
    await alice.write('again', { diary: 'alice' });
    expect(await root.clear({ diary: 'alice' })).toBe(1);
    expect(await root.clear()).toBe(2);
    expect(await anonymous.read()).toEqual([]);
  });

  it('refuses a wrong password, an unknown name and a disabled account alike', async () => {
    const { port, store } = await withAccounts();
    const client = await openClient(port);
    expect(await codeOf(client.login('alice', 'wrong'))).toBe('EAUTH');
    expect(await codeOf(client.login('nobody', 'x'))).toBe('EAUTH');
    await store.accounts.setDisabled('bob', true);
    expect(await codeOf(client.login('bob', 'bob-password'))).toBe('EAUTH');
    // A forged or stale token is no one.
    const seed = await seedSocket(port);
    await seed.ask(encodeMessage({ op: 'read', rid: 'r1', tok: 'A'.repeat(22) }));
    expect(decodeServerMessage(seed.received.at(-1)!)).toMatchObject({ op: 'error', rid: 'r1', code: 'EAUTH' });
  });

  it('answers a burst of logins from one address with ETHROTTLED, without a scrypt each', async () => {
    const { port } = await startDiary();
    const seed = await seedSocket(port);
    for (let i = 0; i < 20; i++) seed.send(encodeMessage({ op: 'login', rid: `burst${i}`, user: 'nobody', pass: 'x' }));
    await waitFor(() => seed.received.length >= 10, 5_000, 'the throttled answers');
    const throttled = seed.received.map((m) => decodeServerMessage(m)).filter((m) => m?.op === 'error' && m.code === 'ETHROTTLED');
    expect(throttled.length).toBeGreaterThanOrEqual(9);
  });

  it('logs in again by itself when its session expires', async () => {
    const fixture = await startDiary({ sessionTtlMs: 300 });
    await fixture.store.accounts.add('alice', 'alice-password');
    const alice = await openClient(fixture.port);
    await alice.login('alice', 'alice-password');
    await alice.write('before', { diary: 'alice' });
    await new Promise((resolve) => setTimeout(resolve, 400));
    await alice.write('after', { diary: 'alice' });
    expect((await alice.read({ diary: 'alice' })).map((e) => e.text)).toEqual(['before', 'after']);
  });

  it('stores a resent WRITE once and acknowledges it again, with the time it was stored', async () => {
    const { port, store } = await startDiary();
    const seed = await seedSocket(port);
    const write = encodeMessage({ op: 'write', c: '00000000000000c1', e: [[1, 'once'], [2, 'only']] });
    await seed.ask(write);
    const first = decodeServerMessage(seed.received.at(-1)!);
    expect(first).toMatchObject({ op: 'ack', c: '00000000000000c1', upTo: 2, from: 1 });
    await seed.ask(write);
    const again = decodeServerMessage(seed.received.at(-1)!);
    expect(again).toMatchObject({ op: 'ack', upTo: 2, t: [[1, (first as { at: number }).at], [2, (first as { at: number }).at]] });
    expect((await allEntries(store)).map((r) => r.text)).toEqual(['once', 'only']);
  });

  it('holds an entry that arrives before the one it follows, and stores both in order', async () => {
    const { port, store } = await startDiary();
    const seed = await seedSocket(port);
    await seed.ask(encodeMessage({ op: 'write', c: '00000000000000c2', e: [[2, 'second']] }));
    expect(decodeServerMessage(seed.received.at(-1)!)).toEqual({ op: 'ack', c: '00000000000000c2', upTo: 0, held: [[2, 2]] });
    expect(await allEntries(store)).toHaveLength(0);
    await seed.ask(encodeMessage({ op: 'write', c: '00000000000000c2', e: [[1, 'first']] }));
    expect(decodeServerMessage(seed.received.at(-1)!)).toMatchObject({ op: 'ack', upTo: 2, from: 1 });
    expect((await allEntries(store)).map((r) => [r.text, r.seq])).toEqual([
      ['first', 1],
      ['second', 2],
    ]);
  });

  it('answers a malformed message with EPROTOCOL and keeps serving; an ACK sent to it is not a command', async () => {
    const { port, store } = await startDiary();
    const seed = await seedSocket(port);
    for (const bad of [
      Buffer.concat([WHARF_MAGIC, Buffer.from('{not json')]),
      Buffer.from([0xff, 0x57, 0x44, 0x09, 0x7b, 0x7d]),
      encodeMessage({ op: 'ack', c: '00000000000000c3', upTo: 5 }),
      Buffer.concat([WHARF_MAGIC, Buffer.from(JSON.stringify({ op: 'read', rid: 'x1', after: -3 }))]),
    ]) {
      await seed.ask(bad);
      expect(decodeServerMessage(seed.received.at(-1)!)).toMatchObject({ op: 'error', code: 'EPROTOCOL' });
    }
    expect(decodeServerMessage(seed.received.at(-1)!)).toMatchObject({ rid: 'x1' });
    expect(await allEntries(store)).toHaveLength(0);
    expect(await seed.ask('still here')).toMatch(STAMP);
  });
});

describe('forged acknowledgements', () => {
  /** A socket posing as the server: it never answers unless told to. */
  async function fakeServer() {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    const seen: Array<{ message: Buffer; port: number }> = [];
    socket.on('message', (message, from) => seen.push({ message, port: from.port }));
    return { socket, port: socket.address().port, seen, close: () => new Promise<void>((resolve) => socket.close(() => resolve())) };
  }

  it('an ACK from any other address or port is ignored', async () => {
    const server = await fakeServer();
    const client = await DiaryClient.connect({ port: server.port, timeoutMs: 600, retransmitMs: 50 });
    const forger = dgram.createSocket('udp4');
    try {
      const write = client.write('must not be believed');
      await waitFor(() => server.seen.length > 0, 2_000, 'the write');
      const ack = encodeMessage({ op: 'ack', c: client.clientId, upTo: 1, from: 1, at: Date.now() });
      const clientPort = server.seen[0]!.port;
      for (let i = 0; i < 5; i++) forger.send(ack, clientPort, '127.0.0.1');
      // The client's socket is connected to the server: the kernel drops these before the
      // client sees them, and the client would ignore them anyway.
      expect(await codeOf(write)).toBe('EDEADLINE');
    } finally {
      forger.close();
      await client.close();
      await server.close();
    }
  });

  it("an ACK from the server's own address counts only for this client's id and for entries it sent", async () => {
    const server = await fakeServer();
    const client = await DiaryClient.connect({ port: server.port, timeoutMs: 2_000, retransmitMs: 50 });
    try {
      const write = client.write('one');
      await waitFor(() => server.seen.length > 0, 2_000, 'the write');
      const clientPort = server.seen[0]!.port;
      const send = (message: ServerMessage) => server.socket.send(encodeMessage(message), clientPort, '127.0.0.1');
      send({ op: 'ack', c: 'ffffffffffffffff', upTo: 1 }); // another client's id
      send({ op: 'ack', c: client.clientId, upTo: 5 }); // more than was ever sent
      await waitFor(() => client.stats.ignored >= 2, 2_000, 'the forged ACKs');
      expect(client.pending).toBe(1);
      send({ op: 'ack', c: client.clientId, upTo: 1, from: 1, at: 1_000 });
      expect((await write).time).toEqual(new Date(1_000));
    } finally {
      await client.close();
      await server.close();
    }
  });
});

describe('bad input', () => {
  it('an empty datagram is answered, not stored', async () => {
    const { port, store } = await startDiary();
    const seed = await seedSocket(port);
    expect(await seed.ask(Buffer.alloc(0))).toBe(SEED_REPLIES.empty);
    expect(await seed.ask('\n')).toBe(SEED_REPLIES.empty);
    expect(await allEntries(store)).toHaveLength(0);
  });

  it('a 65,507-byte datagram is refused with an answer, in either protocol', async () => {
    const { port, store } = await startDiary();
    const seed = await seedSocket(port);
    expect(await seed.ask(Buffer.alloc(65_507, 0x61))).toBe(SEED_REPLIES.tooLong(65_507, 4096));
    const big = encodeMessage({ op: 'write', c: '00000000000000c4', e: [[1, 'x'.repeat(65_507 - 60)]] });
    expect(big.length).toBeLessThanOrEqual(65_507);
    await seed.ask(big);
    expect(decodeServerMessage(seed.received.at(-1)!)).toMatchObject({ op: 'ack', upTo: 1, rej: [[1, 'ETOOLONG', expect.any(String)]] });
    expect(await allEntries(store)).toHaveLength(0);
  });

  it('invalid UTF-8 is refused with an answer, not stored mangled', async () => {
    const { port, store } = await startDiary();
    const seed = await seedSocket(port);
    expect(await seed.ask(Buffer.from([0x68, 0x69, 0xc3, 0x28]))).toBe(SEED_REPLIES.notUtf8);
    // 你好 in GBK, as a seed client on a Chinese Windows console would send it.
    expect(await seed.ask(Buffer.from([0xc4, 0xe3, 0xba, 0xc3]))).toBe(SEED_REPLIES.notUtf8);
    expect(await allEntries(store)).toHaveLength(0);
  });

  it('a flood from one address is rate-limited; other addresses are not affected', async () => {
    const { port, store, server } = await startDiary({ ratePerSecond: 200, burst: 100 });
    const flooder = await seedSocket(port, '127.0.0.2');
    const started = Date.now();
    const flood = (async () => {
      for (let i = 0; i < 4000; i++) {
        flooder.send(`flood ${i}`);
        if (i % 200 === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    })();
    const client = await openClient(port);
    const seed = await seedSocket(port);
    const [written] = await Promise.all([Promise.all(Array.from({ length: 50 }, (_, i) => client.write(`calm ${i}`))), flood]);
    for (let i = 0; i < 10; i++) expect(await seed.ask(`seed ${i}`)).toMatch(STAMP);
    expect(written).toHaveLength(50);
    const elapsed = (Date.now() - started) / 1000;
    const rows = await allEntries(store);
    const flooded = rows.filter((r) => r.text.startsWith('flood')).length;
    expect(flooded).toBeLessThanOrEqual(100 + Math.ceil(200 * elapsed) + 5);
    expect(flooded).toBeGreaterThan(0);
    expect(server.rateLimited).toBeGreaterThan(1000);
    expect(rows.filter((r) => r.text.startsWith('calm'))).toHaveLength(50);
    expect(rows.filter((r) => r.text.startsWith('seed'))).toHaveLength(10);
  });
});
