/**
 * The seed front ends against bad peers: garbage, truncated and oversized input, names that try
 * to leave the home, quota, and the parsers byte by byte. (The seeds' own clients:
 * test/seeds/seed-000-ftp.test.ts, seed-001.test.ts and seed-002.test.ts.)
 */
import { readdir, readFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeHeaderFrame, HeaderFrameDecoder } from '../../../src/codec/header-frame.js';
import { endsWithMarker, JsonObjectScanner, parseSeed000Command, parseSeed002Command } from '../../../src/services/ftp/seed-protocol.js';
import { startTestFtp, stopTestFtps, type TestFtpServer } from './support.js';

let server: TestFtpServer;
const QUOTA = 100_000;

beforeAll(async () => {
  server = await startTestFtp(
    { seed000: true, seed000Port: 0, seed001: true, seed001Port: 0, seed002: true, seed002Port: 0, seedAccount: 'alice', seedMessageGapMs: 20, seedMaxFileBytes: 50_000 },
    { quota: QUOTA, users: { alice: 'secret', bob: 'secret-b' } },
  );
});

afterAll(async () => {
  await stopTestFtps();
});

/** A raw connection that collects everything the server sends until it closes (or `ms` pass). */
function talk(name: string): { socket: net.Socket; received: () => Buffer; closed: Promise<void>; waitFor: (text: string) => Promise<string> } {
  const socket = net.connect(server.service.seedPorts[name] as number, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => {});
  const closed = new Promise<void>((done) => socket.on('close', () => done()));
  const received = () => Buffer.concat(chunks);
  const waitFor = async (text: string) => {
    for (let i = 0; i < 300 && !received().toString().includes(text); i++) await sleep(10);
    return received().toString();
  };
  return { socket, received, closed, waitFor };
}

async function homeNames(name: string): Promise<string[]> {
  return (await readdir(server.home(name))).sort();
}

describe('seed protocols, byte by byte', () => {
  it('seed 000: one command per read, the name is the last word, anything else is BAD', () => {
    expect(parseSeed000Command(Buffer.from('LIST'))).toEqual({ verb: 'LIST' });
    expect(parseSeed000Command(Buffer.from('LIST\r\n'))).toEqual({ verb: 'LIST' });
    expect(parseSeed000Command(Buffer.from('STOR a b.txt'))).toEqual({ verb: 'STOR', name: 'b.txt' });
    expect(parseSeed000Command(Buffer.from('RETR'))).toMatchObject({ verb: 'BAD' });
    expect(parseSeed000Command(Buffer.from('\u0000\xff garbage'))).toMatchObject({ verb: 'BAD' });
    expect(parseSeed000Command(Buffer.alloc(1025, 0x41))).toMatchObject({ verb: 'BAD' });
    expect(endsWithMarker(Buffer.from('data##'))).toBe(true);
    expect(endsWithMarker(Buffer.from('#'))).toBe(false);
  });

  it('seed 002: finds each JSON object however TCP cuts or glues them; braces in strings do not count', () => {
    const stream = Buffer.from('{"cmd": "x", "a": "}{\\"}"}{"cmd":"put"}');
    const objects: string[] = [];
    const byteByByte = new JsonObjectScanner(100);
    for (let i = 0; i < stream.length; i++) {
      const found = byteByByte.push(stream.subarray(i, i + 1));
      if (found) objects.push(found.object.toString());
    }
    expect(objects).toEqual(['{"cmd": "x", "a": "}{\\"}"}', '{"cmd":"put"}']);
    const glued = new JsonObjectScanner(100);
    const first = glued.push(Buffer.concat([stream, Buffer.from('BODY')]));
    expect(first?.object.toString()).toBe('{"cmd": "x", "a": "}{\\"}"}');
    const second = glued.push(first?.rest ?? Buffer.alloc(0));
    expect(second?.rest.toString()).toBe('BODY');
    expect(() => new JsonObjectScanner(100).push(Buffer.from('hello'))).toThrow(/JSON object/);
    expect(() => new JsonObjectScanner(100).push(Buffer.from(`{"a":"${'x'.repeat(200)}`))).toThrow(/longer than 100/);
    expect(parseSeed002Command(Buffer.from('{"cmd":"put","filename":"a","filesize":-1}'))).toMatchObject({ cmd: 'bad' });
    expect(parseSeed002Command(Buffer.from('{"cmd":"put","filename":"a","filesize":1e300}'))).toMatchObject({ cmd: 'bad' });
    expect(parseSeed002Command(Buffer.from('{"cmd":"__proto__"}'))).toEqual({ cmd: 'unknown' });
    expect(parseSeed002Command(Buffer.from([0x7b, 0xff, 0x7d]))).toMatchObject({ cmd: 'bad' });
  });
});

describe('seed 000 §9 front end', () => {
  it('answers FAIL to garbage and closes on an oversized command', async () => {
    const peer = talk('seed-000');
    peer.socket.write('HELLO');
    expect(await peer.waitFor('FAIL')).toBe('FAIL');
    await sleep(50);
    peer.socket.write(Buffer.alloc(5000, 0x41));
    await peer.closed;
    expect(peer.received().toString()).toMatch(/^(FAIL)+$/);
  });

  it('refuses names that lead out of the home or to its hidden files', async () => {
    for (const command of ['STOR ../../escape.txt', 'RETR ../../../../etc/passwd', 'RETR .wharf-partial.x', 'STOR /']) {
      const peer = talk('seed-000');
      peer.socket.write(command);
      expect(await peer.waitFor('FAIL')).toBe('FAIL');
      peer.socket.destroy();
    }
    expect(await readdir(join(server.home('alice'), '..', '..'))).not.toContain('escape.txt');
  });

  it('a client gone before `##` leaves no file, no working file and no quota behind', async () => {
    const before = (await server.store.quota.usage('alice')).bytesUsed;
    const peer = talk('seed-000');
    peer.socket.write('STOR cut.bin');
    await peer.waitFor('OK');
    peer.socket.end(Buffer.alloc(10_000, 1));
    await peer.closed;
    await sleep(100);
    expect((await homeNames('alice')).filter((n) => n === 'cut.bin' || n.startsWith('.wharf-'))).toEqual([]);
    expect((await server.store.quota.usage('alice')).bytesUsed).toBe(before);
  });

  it('an upload past the file size limit is cut off and removed', async () => {
    const peer = talk('seed-000');
    peer.socket.write('STOR huge.bin');
    await peer.waitFor('OK');
    peer.socket.write(Buffer.alloc(60_000, 1));
    await peer.closed;
    await sleep(100);
    expect((await homeNames('alice')).filter((n) => n === 'huge.bin' || n.startsWith('.wharf-'))).toEqual([]);
  });

  it('stores a file whose `##` came glued to its last bytes, and sends it back between OK and ##', async () => {
    const peer = talk('seed-000');
    peer.socket.write('STOR glued.txt');
    await peer.waitFor('OK');
    peer.socket.write('hello##');
    await sleep(100);
    peer.socket.write('RETR glued.txt');
    expect(await peer.waitFor('##')).toBe('OKOKhello##');
    expect(await readFile(join(server.home('alice'), 'glued.txt'), 'utf8')).toBe('hello');
    peer.socket.destroy();
  });
});

describe('seed 002 front end', () => {
  it('closes on a command that is not JSON, and on one larger than 8 KiB', async () => {
    const garbage = talk('seed-002');
    garbage.socket.write('not json at all');
    await garbage.closed;
    expect(garbage.received().toString()).toBe('欢迎使用... ');
    const big = talk('seed-002');
    big.socket.write(`{"cmd":"register","username":"${'x'.repeat(9000)}`);
    await big.closed;
    expect(big.received().toString()).toBe('欢迎使用... ');
  });

  it('answers glued commands in order; unknown commands; put before login; reserved and taken names', async () => {
    const peer = talk('seed-002');
    peer.socket.write('{"cmd":"nope"}{"cmd":"put","filename":"a","filesize":1,"file_owner":"alice"}{"cmd":"register","username":"admin","password":"x"}');
    const text = await peer.waitFor('不合法');
    expect(text).toMatch(/^欢迎使用\.\.\. Invalid command\.\.\.请先登录用户名或密码不合法/);
    peer.socket.write('{"cmd":"register","username":"bob","password":"x"}');
    expect(await peer.waitFor('用户名已存在')).toContain('用户名已存在');
    peer.socket.destroy();
  });

  it('a put goes to the logged-in home whatever file_owner says, under its base name; too large is refused', async () => {
    const peer = talk('seed-002');
    peer.socket.write('{"cmd":"check_user","username":"bob","password":"secret-b"}');
    await peer.waitFor('登陆成功');
    peer.socket.write('{"cmd":"put","filename":"../../alice/owned.txt","filesize":3,"file_owner":"alice"}');
    await peer.waitFor('Start');
    peer.socket.write('abc{"cmd":"put","filename":"big","filesize":60000}');
    expect(await peer.waitFor('文件过大')).toContain('Start文件过大');
    expect(await readFile(join(server.home('bob'), 'owned.txt'), 'utf8')).toBe('abc');
    expect(await homeNames('alice')).not.toContain('owned.txt');
    peer.socket.destroy();
  });

  it('refuses an upload over quota before a byte is written', async () => {
    await server.store.quota.setUsed('bob', QUOTA - 10);
    const peer = talk('seed-002');
    peer.socket.write('{"cmd":"check_user","username":"bob","password":"secret-b"}');
    await peer.waitFor('登陆成功');
    peer.socket.write('{"cmd":"put","filename":"q.bin","filesize":11}');
    expect(await peer.waitFor('磁盘配额不足')).toContain('磁盘配额不足');
    expect(await homeNames('bob')).not.toContain('q.bin');
    await server.store.quota.setUsed('bob', 3);
    peer.socket.destroy();
  });

  it('wrong passwords: the seed reply, then the connection is closed after the FTP limit', async () => {
    const peer = talk('seed-002');
    for (let i = 0; i < 3; i++) peer.socket.write('{"cmd":"check_user","username":"bob","password":"nope"}');
    await peer.closed;
    expect(peer.received().toString()).toBe(`欢迎使用... ${'密码错误'.repeat(3)}`);
  });
});

describe('seed 001 front end', () => {
  it('stores a put, answers ok, and serves it back with get', async () => {
    const peer = talk('seed-001');
    peer.socket.write(Buffer.concat([encodeHeaderFrame({ action: 'put', filename: '/some/where/frame.txt' }, 5), Buffer.from('12345')]));
    peer.socket.write(encodeHeaderFrame({ action: 'get', filename: 'frame.txt' }, 0));
    const events: unknown[] = [];
    for (let i = 0; i < 300 && events.length < 4; i++) {
      events.length = 0;
      new HeaderFrameDecoder({ maxHeaderBytes: 1000, maxBodyBytes: 1000 }).push(peer.received(), (event) => events.push(event.type === 'body' ? { type: 'body', text: event.chunk.toString() } : event));
      await sleep(10);
    }
    expect(events).toEqual([
      { type: 'header', header: { action: 'ok', filename: 'frame.txt', filesize: 0 }, bodyBytes: 0 },
      { type: 'end' },
      { type: 'header', header: { action: 'get', filename: 'frame.txt', filesize: 5 }, bodyBytes: 5 },
      { type: 'body', text: '12345' },
      { type: 'end' },
    ].slice(0, events.length));
    expect(events).toHaveLength(5);
    peer.socket.destroy();
  });

  it('an oversized header length, garbage, or a body over the limit: an error frame and the connection closed', async () => {
    const lengths = [Buffer.from([0xff, 0xff, 0xff, 0x7f]), Buffer.from('GET / HTTP/1.1\r\n\r\n'), encodeHeaderFrame({ action: 'put', filename: 'x' }, 60_000)];
    for (const bytes of lengths) {
      const peer = talk('seed-001');
      peer.socket.write(bytes);
      await peer.closed;
      expect(peer.received().subarray(4).toString()).toMatch(/"action":"error"/);
    }
    expect(await homeNames('alice')).not.toContain('x');
  });

  it('a truncated body leaves nothing behind', async () => {
    const peer = talk('seed-001');
    peer.socket.end(Buffer.concat([encodeHeaderFrame({ action: 'put', filename: 'short.bin' }, 1000), Buffer.alloc(10)]));
    await peer.closed;
    await sleep(100);
    expect((await homeNames('alice')).filter((n) => n === 'short.bin' || n.startsWith('.wharf-'))).toEqual([]);
  });
});
