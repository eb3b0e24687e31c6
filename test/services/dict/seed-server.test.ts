import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeSaslPlain, type TextReply } from '../../../src/services/dict/protocol.js';
import type { Store } from '../../../src/store/index.js';
import { RawDict, seedTextFile, startDict, tempStore, type StartedDict } from './support.js';

/** A raw connection to the seed front end that keeps each TCP read apart, as the seed client's recv() does. */
class SeedPeer {
  readonly chunks: string[] = [];
  closed = false;
  readonly #socket: net.Socket;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    socket.on('data', (chunk: Buffer) => this.chunks.push(chunk.toString('utf8')));
    socket.on('close', () => (this.closed = true));
    socket.on('error', () => {});
  }

  static async connect(port: number): Promise<SeedPeer> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => socket.once('connect', resolve).once('error', reject));
    return new SeedPeer(socket);
  }

  /** Send one message and wait for `count` reads. */
  async ask(message: string, count = 1): Promise<string[]> {
    const before = this.chunks.length;
    this.#socket.write(message);
    await this.until(() => this.chunks.length >= before + count);
    return this.chunks.slice(before);
  }

  async until(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!condition()) {
      if (Date.now() > deadline) throw new Error(`timed out; read so far: ${JSON.stringify(this.chunks)}`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
  }

  write(data: string | Buffer): void {
    this.#socket.write(data);
  }

  destroy(): void {
    this.#socket.destroy();
  }
}

let server: StartedDict;
let store: Store;
let seedPort: number;
const RECORD = /^alice {4}(\S+) {3}\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$/;

beforeAll(async () => {
  store = await tempStore();
  server = await startDict({ wordnet: false, databases: [{ name: 'seed', path: seedTextFile() }], seedProtocol: true, seedPort: 0, seedRecordGapMs: 30 }, { store });
  seedPort = server.service.addresses[1]!.port;
});

afterAll(async () => {
  await server.stop();
  await store.close();
});

describe("the seed dictionary's protocol (seed 000 §11) beside DICT", () => {
  it('answers R, L, Q and H byte for byte, each answer one read, the records paced, then ##', async () => {
    const peer = await SeedPeer.connect(seedPort);
    expect(await peer.ask('R alice s3cret-pass')).toEqual(['OK']);
    expect(await peer.ask('R alice other-pass')).toEqual(['FAIL']);
    expect(await peer.ask('L alice wrong-pass')).toEqual(['FAIL']);
    expect(await peer.ask('L alice s3cret-pass')).toEqual(['OK']);
    expect(await peer.ask('Q alice abandon')).toEqual(['v. go away from, leaving behind']);
    expect(await peer.ask('Q alice 你好')).toEqual(['hello (Mandarin greeting)']);
    expect(await peer.ask('Q alice nothing-like-it')).toEqual(['Not Found']);
    const history = await peer.ask('H alice', 4);
    expect(history).toHaveLength(4);
    expect(history.slice(0, 3).map((record) => RECORD.exec(record)?.[1])).toEqual(['nothing-like-it', '你好', 'abandon']);
    expect(history[3]).toBe('##');
    await peer.ask('E', 0);
    await peer.until(() => peer.closed);
  });

  it('shares accounts and history with DICT: a seed lookup shows in XHISTORY', async () => {
    await store.accounts.add('carol', 'carols-password');
    const peer = await SeedPeer.connect(seedPort);
    expect(await peer.ask('L carol carols-password')).toEqual(['OK']);
    expect(await peer.ask('Q carol café')).toEqual(['a small restaurant selling light meals and drinks']);
    peer.destroy();
    const dict = await RawDict.connect(server.port);
    expect((await dict.send(`SASLAUTH PLAIN ${encodeSaslPlain('carol', 'carols-password')}`)).final.code).toBe(230);
    const reply = await dict.send('XHISTORY');
    expect((reply.preliminary.find((r) => r.code === 160) as TextReply).lines[0]).toMatch(/^carol café seed /);
    dict.destroy();
  });

  it("answers Q and H only for the account logged in on this connection", async () => {
    await store.accounts.add('dave', 'daves-password');
    const peer = await SeedPeer.connect(seedPort);
    expect(await peer.ask('Q dave abandon')).toEqual(['FAIL']);
    expect(await peer.ask('H dave')).toEqual(['##']);
    expect(await peer.ask('L alice s3cret-pass')).toEqual(['OK']);
    expect(await peer.ask('Q dave abandon')).toEqual(['FAIL']);
    expect(await peer.ask('H dave')).toEqual(['##']);
    expect(await peer.ask('L dave wrong')).toEqual(['FAIL']);
    // A failed login ends the previous one: alice is no longer logged in here.
    expect(await peer.ask('Q alice abandon')).toEqual(['FAIL']);
    peer.destroy();
    const dict = await RawDict.connect(server.port);
    await dict.send(`SASLAUTH PLAIN ${encodeSaslPlain('dave', 'daves-password')}`);
    expect((await dict.send('XHISTORY')).preliminary.find((r) => r.code === 160)).toMatchObject({ text: '0 lookups follow', lines: [] });
    dict.destroy();
  });

  it('refuses reserved names, and answers FAIL to malformed or unknown messages', async () => {
    const peer = await SeedPeer.connect(seedPort);
    expect(await peer.ask('R admin some-password')).toEqual(['FAIL']);
    expect(await peer.ask('R 管理员 some-password')).toEqual(['FAIL']);
    expect(await peer.ask('R onlyname')).toEqual(['FAIL']);
    expect(await peer.ask('DEFINE * cat')).toEqual(['FAIL']);
    peer.destroy();
  });

  it('reads LF-terminated lines too (telnet, nc), several in one read', async () => {
    const peer = await SeedPeer.connect(seedPort);
    peer.write('L alice s3cret-pass\r\nQ alice Zürich\n');
    await peer.until(() => peer.chunks.join('').length >= 'OKthe largest city of Switzerland'.length);
    expect(peer.chunks.join('')).toBe('OKthe largest city of Switzerland');
    peer.destroy();
  });

  it('answers FAIL to a message over 1024 bytes and closes', async () => {
    const peer = await SeedPeer.connect(seedPort);
    peer.write(`Q alice ${'x'.repeat(2000)}`);
    await peer.until(() => peer.closed);
    expect(peer.chunks.join('')).toBe('FAIL');
  });

  it('is off unless asked for', async () => {
    const plain = await startDict({ wordnet: false, databases: [{ name: 'seed', path: seedTextFile() }] });
    expect(plain.service.addresses).toHaveLength(1);
    await plain.stop();
  });
});
