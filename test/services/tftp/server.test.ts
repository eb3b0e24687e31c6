import { open, readdir, readFile, rename, symlink, mkdir, truncate, writeFile, mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { busyPoller } from '../../../src/core/busy-poll.js';
import { TftpClient } from '../../../src/services/tftp/client.js';
import { FileBytesCache } from '../../../src/services/tftp/file-bytes-cache.js';
import { tftpConfigSchema } from '../../../src/services/tftp/server.js';
import { formatAck, formatData, formatError, formatRequest, parsePacket, type TftpOption } from '../../../src/services/tftp/protocol.js';
import { TftpTransferError } from '../../../src/services/tftp/transfer.js';
import { RawPeer, sha256, startTestServer, stopTestServers, waitUntil, writeRandomFile } from './support.js';

afterEach(async () => {
  await stopTestServers();
});

const peers: RawPeer[] = [];
async function rawPeer(): Promise<RawPeer> {
  const peer = await RawPeer.open();
  peers.push(peer);
  return peer;
}
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
});

const fast = { timeoutMs: 50, retries: 8 };
const opts = (pairs: Record<string, string>): TftpOption[] => Object.entries(pairs).map(([name, value]) => ({ name, value }));

async function openFds(): Promise<number> {
  return (await readdir('/proc/self/fd')).length;
}

describe('tftp server: downloads', () => {
  it('sends files of 0, 1, 511, 512, 513 and 1024 bytes in lockstep with blksize 512', async () => {
    const { root, port } = await startTestServer();
    const client = await TftpClient.connect({ host: '127.0.0.1', port, blockSize: 512 });
    for (const size of [0, 1, 511, 512, 513, 1024]) {
      const data = await writeRandomFile(root, `f${size}`, size);
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (chunk: Buffer) => chunks.push(chunk));
      const result = await client.get(`f${size}`, out);
      expect(Buffer.concat(chunks).equals(data), `size ${size}`).toBe(true);
      expect(result.blocks).toBe(Math.floor(size / 512) + 1);
      // An empty file's tsize is left out of the OACK (curl refuses "tsize 0").
      expect(result.transferSize).toBe(size === 0 ? undefined : size);
    }
  });

  it('sends exact multiples of blksize and odd sizes with every window', async () => {
    const { root, port } = await startTestServer();
    const dir = await mkdtemp(join(tmpdir(), 'wharf-tftp-out-'));
    const cases: Array<[number, number, number]> = [
      [1468, 1, 1468 * 3],
      [1468, 4, 1468 * 8],
      [1468, 16, 200_001],
      [8, 3, 1000],
      [65464, 2, 65464 * 3],
      [65464, 8, 1_000_000],
      [4096, 64, 3_000_000],
    ];
    for (const [blockSize, windowSize, size] of cases) {
      const data = await writeRandomFile(root, 'file.bin', size);
      const out = join(dir, `${blockSize}-${windowSize}`);
      const result = await (await TftpClient.connect({ host: '127.0.0.1', port, blockSize, windowSize })).get('file.bin', out);
      expect(sha256(await readFile(out)), `${blockSize}/${windowSize}/${size}`).toBe(sha256(data));
      expect(result).toMatchObject({ blockSize, windowSize, bytes: size });
    }
  });

  it('takes absolute names relative to the root and serves subfolders', async () => {
    const { root, port } = await startTestServer();
    await mkdir(join(root, 'pxelinux.cfg'));
    await writeFile(join(root, 'pxelinux.cfg', 'default'), 'DEFAULT linux\n');
    const client = await TftpClient.connect({ host: '127.0.0.1', port });
    for (const name of ['/pxelinux.cfg/default', 'pxelinux.cfg/default', './pxelinux.cfg//default']) {
      const out = new PassThrough();
      const chunks: Buffer[] = [];
      out.on('data', (c: Buffer) => chunks.push(c));
      await client.get(name, out);
      expect(Buffer.concat(chunks).toString()).toBe('DEFAULT linux\n');
    }
  });

  it('converts netascii both ways, with CR LF pairs cut by block boundaries', async () => {
    const { root, port } = await startTestServer({ allowWrite: true });
    const text = Buffer.from('one\ntwo\r\nbare\rcr\n\n\r'.repeat(50));
    await writeFile(join(root, 'text.txt'), text);
    const dir = await mkdtemp(join(tmpdir(), 'wharf-tftp-out-'));
    for (const [blockSize, windowSize] of [[8, 1], [9, 4], [512, 1]]) {
      const client = await TftpClient.connect({ host: '127.0.0.1', port, mode: 'netascii', blockSize, windowSize });
      const result = await client.get('text.txt', join(dir, 'text.txt'));
      expect(await readFile(join(dir, 'text.txt'))).toEqual(text);
      const lineFeeds = text.filter((b) => b === 10).length;
      const carriageReturns = text.filter((b) => b === 13).length;
      expect(result.bytes).toBe(text.length + lineFeeds + carriageReturns);
      expect(result.transferSize).toBeUndefined();
      const sent = await client.put(join(dir, 'text.txt'), `copy-${blockSize}.txt`);
      expect(sent.bytes).toBe(result.bytes);
      expect(await readFile(join(root, `copy-${blockSize}.txt`))).toEqual(text);
    }
  });

  it('leaves tsize out for netascii and answers it for octet (raw RRQ)', async () => {
    const { root, port } = await startTestServer();
    await writeFile(join(root, 'a.txt'), 'a\nb\n');
    const peer = await rawPeer();
    peer.send(formatRequest('RRQ', 'a.txt', 'netascii', opts({ tsize: '0', blksize: '512' })), port);
    expect(parsePacket((await peer.next())!.message)).toEqual({ type: 'OACK', options: opts({ blksize: '512' }) });
    const other = await rawPeer();
    other.send(formatRequest('RRQ', 'a.txt', 'octet', opts({ tsize: '0' })), port);
    expect(parsePacket((await other.next())!.message)).toEqual({ type: 'OACK', options: opts({ tsize: '4' }) });
  });

  it('busy-polls for the answers during a transfer, stops afterwards, and not at all with busyPollMicros 0', async () => {
    const spinning = await startTestServer();
    const data = await writeRandomFile(spinning.root, 'f', 300_000);
    const before = busyPoller.turns;
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    await (await TftpClient.connect({ host: '127.0.0.1', port: spinning.port, blockSize: 1468, busyPollMicros: 0 })).get('f', out);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
    expect(busyPoller.turns).toBeGreaterThan(before); // the server spun (the client was told not to)
    await waitUntil(() => !busyPoller.spinning, 2_000, 'the spinning to stop');

    const still = await startTestServer({ busyPollMicros: 0 });
    await writeRandomFile(still.root, 'f', 300_000);
    const idle = busyPoller.turns;
    await (await TftpClient.connect({ host: '127.0.0.1', port: still.port, blockSize: 1468, busyPollMicros: 0 })).get('f', new PassThrough().resume());
    expect(busyPoller.turns).toBe(idle);

    // A bad setting is refused when the config is read, before anything listens.
    for (const bad of [-1, 10_001, 1.5, '50']) expect(tftpConfigSchema.safeParse({ busyPollMicros: bad }).success, String(bad)).toBe(false);
  });

  it('sends a 40 MiB file at blksize 512: block numbers roll over past 65535', async () => {
    const { root, port } = await startTestServer();
    const size = 40 * 1024 * 1024;
    const data = await writeRandomFile(root, 'big.bin', size);
    const dir = await mkdtemp(join(tmpdir(), 'wharf-tftp-out-'));
    const result = await (await TftpClient.connect({ host: '127.0.0.1', port, blockSize: 512, windowSize: 64 })).get('big.bin', join(dir, 'big.bin'));
    expect(result.blocks).toBe(size / 512 + 1);
    expect(sha256(await readFile(join(dir, 'big.bin')))).toBe(sha256(data));
  }, 60_000);
});

describe('tftp server: file cache', () => {
  async function download(port: number, name: string, blockSize = 1468): Promise<Buffer> {
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (chunk: Buffer) => chunks.push(chunk));
    await (await TftpClient.connect({ host: '127.0.0.1', port, blockSize })).get(name, out);
    return Buffer.concat(chunks);
  }

  it('sends later downloads from memory, byte for byte, at every block size', async () => {
    const { root, port, service } = await startTestServer();
    const data = await writeRandomFile(root, 'kernel', 200_000);
    expect(await download(port, 'kernel')).toEqual(data);
    await waitUntil(() => service.fileCache.files === 1, 5_000, 'the file to be cached');
    expect(service.fileCache.bytes).toBe(data.length);
    for (const blockSize of [512, 1468, 8, 65464]) expect(sha256(await download(port, 'kernel', blockSize)), `blksize ${blockSize}`).toBe(sha256(data));
    expect(service.fileCache.hits).toBe(4);
  });

  it('never serves a stale copy: a rewritten or replaced file is read again', async () => {
    const { root, port, service } = await startTestServer();
    await writeRandomFile(root, 'boot.img', 50_000);
    await download(port, 'boot.img');
    await waitUntil(() => service.fileCache.files === 1, 5_000, 'the file to be cached');
    // Rewritten in place, same size.
    const rewritten = await writeRandomFile(root, 'boot.img', 50_000);
    expect(await download(port, 'boot.img')).toEqual(rewritten);
    // Replaced by rename (another inode), as package managers and rsync do.
    await writeFile(join(root, 'boot.img.new'), 'new contents');
    await rename(join(root, 'boot.img.new'), join(root, 'boot.img'));
    expect((await download(port, 'boot.img')).toString()).toBe('new contents');
    expect(service.fileCache.hits).toBe(0);
  });

  it('keeps within its budget: too large files are not kept, the least recently used go first, 0 turns it off', async () => {
    const { root, port, service } = await startTestServer({ fileCacheBytes: 100_000 });
    // A transfer ends (activeTransfers) only after its file is in the cache.
    const settled = () => waitUntil(() => service.activeTransfers === 0, 5_000, 'the transfer to end');
    await writeRandomFile(root, 'big', 60_000); // more than half the budget
    await download(port, 'big');
    await settled();
    expect(service.fileCache.files).toBe(0);
    for (const name of ['a', 'b', 'c']) {
      await writeRandomFile(root, name, 40_000);
      await download(port, name);
      await settled();
    }
    expect(service.fileCache).toEqual({ files: 2, bytes: 80_000, hits: 0 });
    await download(port, 'c'); // kept (most recent)
    await download(port, 'a'); // evicted: read from disk
    expect(service.fileCache.hits).toBe(1);

    const off = await startTestServer({ fileCacheBytes: 0 });
    await writeRandomFile(off.root, 'f', 10_000);
    await download(off.port, 'f');
    await download(off.port, 'f');
    expect(off.service.fileCache).toEqual({ files: 0, bytes: 0, hits: 0 });
  });

  it('does not keep a file that became shorter than it was when opened', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'wharf-tftp-cache-'));
    const path = join(dir, 'f');
    await writeFile(path, Buffer.alloc(10_000, 7));
    const handle = await open(path, 'r');
    try {
      const info = await handle.stat();
      await truncate(path, 5_000);
      const cache = new FileBytesCache(1_000_000);
      await cache.fill(handle, info);
      expect(cache.stats.files).toBe(0);
      expect(cache.get(info)).toBeUndefined();
    } finally {
      await handle.close();
    }
  });
});

describe('tftp server: uploads', () => {
  it('refuses uploads unless --allow-write', async () => {
    const { port, root } = await startTestServer();
    const error = await (await TftpClient.connect({ host: '127.0.0.1', port })).put(Buffer.from('x'), 'x.bin').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TftpTransferError);
    expect((error as TftpTransferError).tftpCode).toBe(2);
    expect(await readdir(root)).toEqual([]);
  });

  it('creates new files only, unless --allow-overwrite', async () => {
    const { port, root } = await startTestServer({ allowWrite: true });
    const client = await TftpClient.connect({ host: '127.0.0.1', port });
    await client.put(Buffer.from('first'), 'config.txt');
    const error = await client.put(Buffer.from('second'), 'config.txt').catch((e: unknown) => e);
    expect((error as TftpTransferError).tftpCode).toBe(6);
    expect(await readFile(join(root, 'config.txt'), 'utf8')).toBe('first');

    const overwriting = await startTestServer({ allowWrite: true, allowOverwrite: true, root });
    await (await TftpClient.connect({ host: '127.0.0.1', port: overwriting.port })).put(Buffer.from('second'), 'config.txt');
    expect(await readFile(join(root, 'config.txt'), 'utf8')).toBe('second');
    expect(await readdir(root)).toEqual(['config.txt']);
  });

  it('receives 0 bytes, exact multiples of blksize, and windows, byte for byte', async () => {
    const { port, root } = await startTestServer({ allowWrite: true });
    const cases: Array<[number, number, number]> = [
      [512, 1, 0],
      [512, 1, 512],
      [512, 1, 1024],
      [1468, 16, 1468 * 32],
      [1468, 16, 777_777],
      [65464, 4, 1_000_000],
    ];
    let i = 0;
    for (const [blockSize, windowSize, size] of cases) {
      const data = (await import('node:crypto')).randomBytes(size);
      const result = await (await TftpClient.connect({ host: '127.0.0.1', port, blockSize, windowSize })).put(data, `up${i}.bin`);
      expect(result.bytes).toBe(size);
      expect(sha256(await readFile(join(root, `up${i}.bin`))), `${blockSize}/${windowSize}/${size}`).toBe(sha256(data));
      i++;
    }
    expect((await readdir(root)).filter((name) => name.endsWith('.part'))).toEqual([]);
  });

  it('receives a 40 MiB upload at blksize 512 across the block-number rollover', async () => {
    const { port, root } = await startTestServer({ allowWrite: true, maxUploadBytes: '64M' });
    const dir = await mkdtemp(join(tmpdir(), 'wharf-tftp-in-'));
    const data = await writeRandomFile(dir, 'big.bin', 40 * 1024 * 1024);
    const result = await (await TftpClient.connect({ host: '127.0.0.1', port, blockSize: 512, windowSize: 64 })).put(join(dir, 'big.bin'), 'big.bin');
    expect(result.blocks).toBe(81_921);
    expect(sha256(await readFile(join(root, 'big.bin')))).toBe(sha256(data));
  }, 60_000);

  it('limits the upload size: by tsize up front, and by counting when there is no tsize', async () => {
    const { port, root } = await startTestServer({ allowWrite: true, maxUploadBytes: 10_000 });
    const client = await TftpClient.connect({ host: '127.0.0.1', port, ...fast });
    const upFront = await client.put(Buffer.alloc(10_001), 'big.bin').catch((e: unknown) => e);
    expect((upFront as TftpTransferError).tftpCode).toBe(3);
    const counted = await client.put(Buffer.alloc(20_000), 'big.bin', { transferSize: false }).catch((e: unknown) => e);
    expect(counted).toBeInstanceOf(TftpTransferError);
    expect((counted as Error).message).toMatch(/too large|disk full/);
    await client.put(Buffer.alloc(10_000), 'fits.bin');
    expect(await readdir(root)).toEqual(['fits.bin']);
  });

  it('a failed upload leaves nothing behind, not even the temporary file', async () => {
    const { port, root, service } = await startTestServer({ allowWrite: true, timeoutMs: 200, maxTimeoutMs: 400, retries: 2 });
    const peer = await rawPeer();
    peer.send(formatRequest('WRQ', 'half.bin', 'octet'), port);
    const ack0 = (await peer.next())!;
    expect(parsePacket(ack0.message)).toEqual({ type: 'ACK', block: 0 });
    peer.send(formatData(1, Buffer.alloc(512, 1)), ack0.port);
    // (On a busy machine a resent ACK 0 may come first.)
    let ack: ReturnType<typeof parsePacket> | undefined;
    do ack = parsePacket((await peer.next())!.message);
    while (ack.type === 'ACK' && ack.block === 0);
    expect(ack).toEqual({ type: 'ACK', block: 1 });
    expect((await readdir(root)).length).toBe(1); // the temporary file
    // ... and the client goes silent.
    await waitUntil(() => service.activeTransfers === 0, 5_000, 'the transfer to be dropped');
    expect(await readdir(root)).toEqual([]);
    const after = await peer.collect(50);
    expect(after.map((r) => parsePacket(r.message).type)).toContain('ERROR');
  });

  it('an upload the client abandons with an ERROR leaves nothing', async () => {
    const { port, root, service } = await startTestServer({ allowWrite: true });
    const peer = await rawPeer();
    peer.send(formatRequest('WRQ', 'gone.bin', 'octet'), port);
    const ack0 = (await peer.next())!;
    peer.send(formatData(1, Buffer.alloc(512)), ack0.port);
    await peer.next();
    peer.send(formatError(0, 'user cancelled'), ack0.port);
    await waitUntil(() => service.activeTransfers === 0, 2_000, 'the transfer to end');
    expect(await readdir(root)).toEqual([]);
  });
});

describe('tftp server: paths stay inside the root', () => {
  it('refuses ../x, backslashes, control characters; %2e%2e is just a name', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'wharf-tftp-outside-'));
    await writeFile(join(outside, 'secret'), 'secret');
    const { port, root } = await startTestServer({ allowWrite: true });
    const peer = await rawPeer();
    const ask = async (type: 'RRQ' | 'WRQ', name: string) => {
      peer.send(formatRequest(type, name, 'octet'), port);
      return parsePacket((await peer.next())!.message);
    };
    for (const name of ['../x', 'a/../../x', '..', '../../../../etc/passwd', 'a\\..\\x', 'a\u0001b']) {
      expect(await ask('WRQ', name), name).toMatchObject({ type: 'ERROR', code: 2 });
      expect(await ask('RRQ', name), name).toMatchObject({ type: 'ERROR', code: 2 });
    }
    expect(await ask('RRQ', '%2e%2e/%2e%2e/etc/passwd')).toMatchObject({ type: 'ERROR', code: 1 });
    expect(await ask('RRQ', `/${outside}/secret`)).toMatchObject({ type: 'ERROR', code: 1 });
    expect(await ask('RRQ', '/')).toMatchObject({ type: 'ERROR', code: 2 });
    expect(await readdir(root)).toEqual([]);
  });

  it('refuses symlinks that lead out of the root, follows ones that stay inside', async () => {
    const outside = await mkdtemp(join(tmpdir(), 'wharf-tftp-outside-'));
    await writeFile(join(outside, 'secret'), 'secret');
    const { port, root } = await startTestServer({ allowWrite: true, allowOverwrite: true });
    await writeFile(join(root, 'real.txt'), 'inside');
    await symlink(join(outside, 'secret'), join(root, 'escape'));
    await symlink(outside, join(root, 'outdir'));
    await symlink(join(root, 'real.txt'), join(root, 'alias.txt'));
    const peer = await rawPeer();
    const ask = async (type: 'RRQ' | 'WRQ', name: string) => {
      peer.send(formatRequest(type, name, 'octet'), port);
      return parsePacket((await peer.next())!.message);
    };
    expect(await ask('RRQ', 'escape')).toMatchObject({ type: 'ERROR', code: 2 });
    expect(await ask('RRQ', 'outdir/secret')).toMatchObject({ type: 'ERROR', code: 2 });
    expect(await ask('WRQ', 'outdir/new')).toMatchObject({ type: 'ERROR', code: 2 });
    expect(await ask('WRQ', 'escape')).toMatchObject({ type: 'ERROR', code: 2 });
    expect(await ask('RRQ', 'alias.txt')).toMatchObject({ type: 'DATA', block: 1 });
    expect(await readFile(join(outside, 'secret'), 'utf8')).toBe('secret');
    expect(await readdir(outside)).toEqual(['secret']);
  });

  it('answers a directory or a missing file with error 1, an upload into a missing folder with error 1', async () => {
    const { port, root } = await startTestServer({ allowWrite: true });
    await mkdir(join(root, 'sub'));
    const peer = await rawPeer();
    for (const [type, name] of [['RRQ', 'sub'], ['RRQ', 'missing'], ['WRQ', 'nofolder/x']] as const) {
      peer.send(formatRequest(type, name, 'octet'), port);
      expect(parsePacket((await peer.next())!.message), name).toMatchObject({ type: 'ERROR', code: 1 });
    }
  });
});

describe('tftp server: bad input', () => {
  it('answers truncated packets, unknown opcodes and stray DATA/ACK on the service port, and keeps serving', async () => {
    const { port, root } = await startTestServer();
    await writeFile(join(root, 'ok.txt'), 'ok');
    const peer = await rawPeer();
    const cases: Array<[Buffer, number | undefined]> = [
      [Buffer.from([0]), 4],
      [Buffer.from([0, 1]), 4],
      [Buffer.from([0, 1, 0x61]), 4],
      [Buffer.from([0, 1, 0x61, 0, 0x6f]), 4],
      [Buffer.from([0, 9, 1, 2, 3]), 4],
      [Buffer.from([0xff, 0xff]), 4],
      [formatAck(1), 5],
      [formatData(1, Buffer.from('x')), 5],
      [formatRequest('RRQ', 'ok.txt', 'mail'), 4],
      [formatRequest('RRQ', 'ok.txt', 'ebcdic'), 4],
      [formatError(0, 'hello'), undefined],
    ];
    for (const [packet, code] of cases) {
      peer.send(packet, port);
      const answer = await peer.next(code === undefined ? 150 : 2_000);
      if (code === undefined) expect(answer).toBeUndefined();
      else expect(parsePacket(answer!.message), packet.toString('hex')).toMatchObject({ type: 'ERROR', code });
    }
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await (await TftpClient.connect({ host: '127.0.0.1', port })).get('ok.txt', out);
    expect(Buffer.concat(chunks).toString()).toBe('ok');
  });

  it('clamps or ignores absurd option values', async () => {
    const { port, root } = await startTestServer({ maxWindowSize: 32 });
    await writeRandomFile(root, 'f', 100);
    const first = async (options: TftpOption[]) => {
      const peer = await rawPeer();
      peer.send(formatRequest('RRQ', 'f', 'octet', options), port);
      return parsePacket((await peer.next())!.message);
    };
    expect(await first(opts({ blksize: '99999999999999999999' }))).toEqual({ type: 'OACK', options: opts({ blksize: '65464' }) });
    expect(await first(opts({ windowsize: '100000' }))).toEqual({ type: 'OACK', options: opts({ windowsize: '32' }) });
    // Unusable values are ignored: with nothing left to acknowledge, DATA 1 comes at once (512-byte blocks).
    for (const [name, value] of [['blksize', '0'], ['blksize', '7'], ['blksize', '-1'], ['blksize', '1e4'], ['windowsize', '0'], ['timeout', '0'], ['timeout', '1000'], ['tsize', 'x'], ['multicast', ',,1']]) {
      expect(await first([{ name: name!, value: value! }]), `${name}=${value}`).toMatchObject({ type: 'DATA', block: 1 });
    }
  });

  it('answers datagrams from another port with ERROR 5 without disturbing the transfer', async () => {
    const { port, root } = await startTestServer({ timeoutMs: 10_000 });
    await writeRandomFile(root, 'f', 2000);
    const peer = await rawPeer();
    const intruder = await rawPeer();
    peer.send(formatRequest('RRQ', 'f', 'octet'), port);
    const data1 = (await peer.next())!;
    expect(parsePacket(data1.message)).toMatchObject({ type: 'DATA', block: 1 });
    intruder.send(formatAck(1), data1.port);
    intruder.send(formatData(1, Buffer.alloc(3)), data1.port);
    expect(parsePacket((await intruder.next())!.message)).toMatchObject({ type: 'ERROR', code: 5 });
    expect(parsePacket((await intruder.next())!.message)).toMatchObject({ type: 'ERROR', code: 5 });
    // The intruder's ACK 1 moved nothing: the peer has heard nothing new.
    expect(await peer.collect(60)).toEqual([]);
    peer.send(formatAck(1), data1.port);
    expect(parsePacket((await peer.next())!.message)).toMatchObject({ type: 'DATA', block: 2 });
  });

  it('tells wharf status how many transfers are in progress', async () => {
    const { port, root, service } = await startTestServer({ timeoutMs: 5_000 });
    await writeRandomFile(root, 'f', 512 * 4 + 1);
    expect(await service.status?.()).toEqual({ transfers: 0 });
    const peer = await rawPeer();
    peer.send(formatRequest('RRQ', 'f', 'octet'), port);
    expect(await peer.next()).toBeDefined();
    expect(await service.status?.()).toEqual({ transfers: 1 });
  });

  it('duplicate ACKs never trigger a resend (no Sorcerer\'s Apprentice)', async () => {
    const { port, root } = await startTestServer({ timeoutMs: 5_000 });
    await writeRandomFile(root, 'f', 512 * 4 + 1);
    const peer = await rawPeer();
    peer.send(formatRequest('RRQ', 'f', 'octet'), port);
    const tid = (await peer.next())!.port;
    for (let i = 0; i < 5; i++) peer.send(formatAck(1), tid);
    const got = await peer.collect(150);
    expect(got.map((r) => parsePacket(r.message))).toEqual([expect.objectContaining({ type: 'DATA', block: 2 })]);
    for (let i = 0; i < 3; i++) peer.send(formatAck(2), tid);
    peer.send(formatAck(1), tid);
    const next = await peer.collect(150);
    expect(next.map((r) => parsePacket(r.message))).toEqual([expect.objectContaining({ type: 'DATA', block: 3 })]);
  });

  it('drops a client that stops ACKing after the retries, with back-off, and frees its resources', async () => {
    const { port, root, service } = await startTestServer({ timeoutMs: 40, maxTimeoutMs: 100, retries: 3 });
    await writeRandomFile(root, 'f', 100_000);
    const fdsBefore = await openFds();
    /** Ask for f, acknowledge block 1 (the client has shown it is there), then go silent. */
    const abandon = async (peer: RawPeer) => {
      peer.send(formatRequest('RRQ', 'f', 'octet'), port);
      const first = await peer.next();
      peer.send(formatAck(1), first!.port);
      const started = Date.now();
      await waitUntil(() => service.activeTransfers === 0 && Date.now() - started > 50, 5_000, 'the transfer to be dropped');
      return { elapsed: Date.now() - started, packets: (await peer.collect(20)).map((r) => parsePacket(r.message)) };
    };
    const { elapsed, packets } = await abandon(await rawPeer());
    // DATA 2, three resends, then ERROR.
    expect(packets.filter((p) => p.type === 'DATA')).toEqual(Array.from({ length: 4 }, () => expect.objectContaining({ block: 2 })));
    expect(packets.at(-1)).toMatchObject({ type: 'ERROR', code: 0 });
    // 40 + 80 + 100 + 100 ms with back-off (plus scheduling): more than the 160 ms of a fixed interval.
    expect(elapsed).toBeGreaterThanOrEqual(300);
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await openFds()).toBe(fdsBefore + 1); // only the raw peer's own socket

    // The same, for a download sent from the file cache (the abandoned one above filled it).
    await waitUntil(() => service.fileCache.files === 1, 5_000, 'the file to be cached');
    const again = await abandon(await rawPeer());
    expect(service.fileCache.hits).toBe(1);
    expect(again.packets.filter((p) => p.type === 'DATA')).toHaveLength(4);
    expect(again.packets.at(-1)).toMatchObject({ type: 'ERROR', code: 0 });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await openFds()).toBe(fdsBefore + 2); // the two raw peers' sockets
  });

  it('sends a request that is never answered (its source may be forged) its first packet at most 3 times, then drops it silently', async () => {
    const { port, root, service, metrics } = await startTestServer({ timeoutMs: 40, maxTimeoutMs: 100, allowWrite: true });
    await writeRandomFile(root, 'f', 100_000);
    const victim = await rawPeer();
    const request = formatRequest('RRQ', 'f', 'octet');
    victim.send(request, port);
    await waitUntil(() => service.activeTransfers === 0 && metrics.connectionsTotal === 1, 5_000, 'the transfer to be dropped');
    const packets = await victim.collect(200);
    expect(packets.map((r) => parsePacket(r.message))).toEqual(Array.from({ length: 3 }, () => expect.objectContaining({ type: 'DATA', block: 1 })));
    // 3 × 516 bytes for a 16-byte request, where 6 blocks and an ERROR went out before.
    expect(packets.reduce((sum, r) => sum + r.message.length, 0)).toBeLessThanOrEqual(3 * 516);
    // An upload request the same: its ACK 0 at most 3 times, no file left behind.
    victim.send(formatRequest('WRQ', 'up', 'octet'), port);
    await waitUntil(() => service.activeTransfers === 0 && metrics.connectionsTotal === 2, 5_000, 'the upload to be dropped');
    expect((await victim.collect(200)).map((r) => parsePacket(r.message))).toEqual(Array.from({ length: 3 }, () => expect.objectContaining({ type: 'ACK', block: 0 })));
    expect((await readdir(root)).sort()).toEqual(['f']);
  });

  it('ends a transfer at once when the client has closed its socket (port unreachable)', async () => {
    const { port, root, service, metrics } = await startTestServer({ timeoutMs: 10_000 });
    await writeRandomFile(root, 'f', 100_000);
    // A client that asks and goes away at once (or a stale copy of a request that was already
    // served): the first DATA draws an ICMP "port unreachable", which ends the transfer.
    const peer = await RawPeer.open();
    await new Promise<void>((resolve) => peer.socket.send(formatRequest('RRQ', 'f', 'octet'), port, '127.0.0.1', () => resolve()));
    await peer.close();
    await waitUntil(() => metrics.connectionsTotal === 1 && service.activeTransfers === 0, 3_000, 'the transfer to end');
  });

  it('ignores a repeated request from the same port: one transfer, not two', async () => {
    const { port, root, service } = await startTestServer({ timeoutMs: 5_000 });
    await writeRandomFile(root, 'f', 5000);
    const peer = await rawPeer();
    const request = formatRequest('RRQ', 'f', 'octet');
    peer.send(request, port);
    peer.send(request, port);
    peer.send(request, port);
    const got = await peer.collect(150);
    expect(got).toHaveLength(1);
    expect(service.activeTransfers).toBe(1);
  });

  it('answers 500 simultaneous RRQs', async () => {
    const { port, root, service } = await startTestServer({ maxTransfers: 1000, maxTransfersPerIp: 0 });
    const data = await writeRandomFile(root, 'pxelinux.0', 3000);
    const fdsBefore = await openFds();
    const results = await Promise.all(
      Array.from({ length: 500 }, async () => {
        const out = new PassThrough();
        const chunks: Buffer[] = [];
        out.on('data', (c: Buffer) => chunks.push(c));
        await (await TftpClient.connect({ host: '127.0.0.1', port, timeoutMs: 500, retries: 6 })).get('pxelinux.0', out);
        return Buffer.concat(chunks);
      }),
    );
    expect(results.every((r) => r.equals(data))).toBe(true);
    // Under load a client may resend its RRQ, and the copy may reach the server after the first
    // transfer is over: the stale transfer ends at the ICMP "port unreachable" of the closed client.
    await waitUntil(() => service.activeTransfers === 0, 5_000, 'all transfers to end');
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(await openFds()).toBe(fdsBefore);
  });

  it('caps concurrent transfers: 500 RRQs against a cap of 50 get "busy" errors, the rest are served', async () => {
    const { port, root, service } = await startTestServer({ maxTransfers: 50, maxTransfersPerIp: 0, timeoutMs: 5_000 });
    await writeRandomFile(root, 'f', 2000);
    const peers = await Promise.all(Array.from({ length: 500 }, () => rawPeer()));
    // These peers never resend a request, so pace them a little: the kernel's queue on the
    // service port is finite (real clients resend; the test above has 500 at once).
    for (const [i, peer] of peers.entries()) {
      peer.send(formatRequest('RRQ', 'f', 'octet'), port);
      if (i % 50 === 49) await new Promise((resolve) => setTimeout(resolve, 5));
    }
    const firsts = await Promise.all(peers.map((peer) => peer.next(3_000)));
    const kinds = firsts.map((r) => (r ? parsePacket(r.message) : undefined));
    expect(kinds.filter((p) => p?.type === 'DATA')).toHaveLength(50);
    expect(kinds.filter((p) => p?.type === 'ERROR' && /busy/.test(p.message))).toHaveLength(450);
    expect(service.activeTransfers).toBe(50);
    // Finish the 50 (ACK every block) and see the slots come back.
    await Promise.all(
      firsts.map(async (first, i) => {
        if (!first || parsePacket(first.message).type !== 'DATA') return;
        const peer = peers[i]!;
        let packet = first;
        for (;;) {
          const p = parsePacket(packet.message);
          if (p.type !== 'DATA') throw new Error('expected DATA');
          peer.send(formatAck(p.block), packet.port);
          if (p.data.length < 512) return;
          packet = (await peer.next())!;
        }
      }),
    );
    await waitUntil(() => service.activeTransfers === 0, 2_000, 'the slots to be freed');
  });

  it('caps transfers per address', async () => {
    const { port, root } = await startTestServer({ maxTransfersPerIp: 2, timeoutMs: 5_000 });
    await writeRandomFile(root, 'f', 2000);
    const peers = await Promise.all([rawPeer(), rawPeer(), rawPeer()]);
    for (const peer of peers) peer.send(formatRequest('RRQ', 'f', 'octet'), port);
    const kinds = (await Promise.all(peers.map((p) => p.next()))).map((r) => parsePacket(r!.message).type).sort();
    expect(kinds).toEqual(['DATA', 'DATA', 'ERROR']);
  });

  it('stop() ends transfers in progress, removes partial uploads, and closes every socket', async () => {
    const { port, root, service } = await startTestServer({ allowWrite: true, timeoutMs: 5_000 });
    await writeRandomFile(root, 'f', 100_000);
    const reader = await rawPeer();
    reader.send(formatRequest('RRQ', 'f', 'octet'), port);
    await reader.next();
    const writer = await rawPeer();
    writer.send(formatRequest('WRQ', 'partial', 'octet'), port);
    const ack0 = (await writer.next())!;
    writer.send(formatData(1, Buffer.alloc(512)), ack0.port);
    await writer.next();
    expect(service.activeTransfers).toBe(2);
    await service.stop(50);
    expect(service.activeTransfers).toBe(0);
    expect(await readdir(root)).toEqual(['f']);
    expect(parsePacket((await reader.next())!.message)).toMatchObject({ type: 'ERROR' });
  });
});
