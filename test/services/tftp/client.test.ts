import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { TftpClient } from '../../../src/services/tftp/client.js';
import { formatAck, formatData, formatError, formatOack, parsePacket, type RequestPacket } from '../../../src/services/tftp/protocol.js';
import { TftpTransferError } from '../../../src/services/tftp/transfer.js';
import { RawPeer, startTestServer, stopTestServers } from './support.js';

const peers: RawPeer[] = [];
async function rawPeer(): Promise<RawPeer> {
  const peer = await RawPeer.open();
  peers.push(peer);
  return peer;
}
afterEach(async () => {
  await Promise.all(peers.splice(0).map((p) => p.close()));
  await stopTestServers();
});

function sink(): { stream: PassThrough; bytes: () => Buffer } {
  const stream = new PassThrough();
  const chunks: Buffer[] = [];
  stream.on('data', (c: Buffer) => chunks.push(c));
  return { stream, bytes: () => Buffer.concat(chunks) };
}

describe('tftp client against scripted servers', () => {
  it('works with an old server that ignores options (RFC 1350 only)', async () => {
    const service = await rawPeer();
    const transfer = await rawPeer();
    const out = sink();
    const client = await TftpClient.connect({ host: '127.0.0.1', port: service.port, blockSize: 1468, windowSize: 8, timeoutMs: 200 });
    const done = client.get('old.bin', out.stream);
    const request = (await service.next())!;
    const rrq = parsePacket(request.message) as RequestPacket;
    expect(rrq).toMatchObject({ type: 'RRQ', filename: 'old.bin', mode: 'octet' });
    expect(rrq.options.map((o) => o.name)).toEqual(['blksize', 'tsize', 'windowsize']);
    // Answer with DATA 1 of 512 bytes from a new port, as a server without option support does.
    transfer.send(formatData(1, Buffer.alloc(512, 1)), request.port);
    expect(parsePacket((await transfer.next())!.message)).toEqual({ type: 'ACK', block: 1 });
    transfer.send(formatData(2, Buffer.from('end')), request.port);
    expect(parsePacket((await transfer.next())!.message)).toEqual({ type: 'ACK', block: 2 });
    const result = await done;
    expect(result).toMatchObject({ blockSize: 512, windowSize: 1, optionsAccepted: false, bytes: 515 });
    expect(out.bytes()).toEqual(Buffer.concat([Buffer.alloc(512, 1), Buffer.from('end')]));
  });

  it('asks again without options when the server refuses them with ERROR 8', async () => {
    const service = await rawPeer();
    const transfer = await rawPeer();
    const out = sink();
    const done = (await TftpClient.connect({ host: '127.0.0.1', port: service.port, timeoutMs: 200 })).get('x', out.stream);
    const first = (await service.next())!;
    expect((parsePacket(first.message) as RequestPacket).options.length).toBeGreaterThan(0);
    service.send(formatError(8, 'no options here'), first.port);
    const second = (await service.next())!;
    expect(parsePacket(second.message)).toMatchObject({ type: 'RRQ', options: [] });
    transfer.send(formatData(1, Buffer.from('hi')), second.port);
    await done;
    expect(out.bytes().toString()).toBe('hi');
  });

  it('refuses an OACK with a value it did not ask for, with ERROR 8', async () => {
    const service = await rawPeer();
    const done = (await TftpClient.connect({ host: '127.0.0.1', port: service.port, blockSize: 1024, timeoutMs: 200 })).get('x', sink().stream).catch((e: unknown) => e);
    const request = (await service.next())!;
    service.send(formatOack([{ name: 'blksize', value: '4096' }]), request.port);
    expect(parsePacket((await service.next())!.message)).toMatchObject({ type: 'ERROR', code: 8 });
    expect(await done).toBeInstanceOf(TftpTransferError);
  });

  it('answers another port with ERROR 5 and keeps going with the server it locked on', async () => {
    const service = await rawPeer();
    const transfer = await rawPeer();
    const intruder = await rawPeer();
    const out = sink();
    const done = (await TftpClient.connect({ host: '127.0.0.1', port: service.port, blockSize: 512, timeoutMs: 500 })).get('x', out.stream);
    const request = (await service.next())!;
    transfer.send(formatData(1, Buffer.alloc(512, 7)), request.port);
    await transfer.next();
    intruder.send(formatData(2, Buffer.from('evil')), request.port);
    expect(parsePacket((await intruder.next())!.message)).toMatchObject({ type: 'ERROR', code: 5 });
    transfer.send(formatData(2, Buffer.from('good')), request.port);
    await done;
    expect(out.bytes().subarray(512).toString()).toBe('good');
  });

  it('resends ACK 0 when the server repeats its OACK (the ACK was lost)', async () => {
    const service = await rawPeer();
    const transfer = await rawPeer();
    const out = sink();
    const done = (await TftpClient.connect({ host: '127.0.0.1', port: service.port, blockSize: 1024, timeoutMs: 1000 })).get('x', out.stream);
    const request = (await service.next())!;
    transfer.send(formatOack([{ name: 'blksize', value: '1024' }]), request.port);
    expect(parsePacket((await transfer.next())!.message)).toEqual({ type: 'ACK', block: 0 });
    transfer.send(formatOack([{ name: 'blksize', value: '1024' }]), request.port);
    expect(parsePacket((await transfer.next())!.message)).toEqual({ type: 'ACK', block: 0 });
    transfer.send(formatData(1, Buffer.from('x')), request.port);
    await done;
    expect(out.bytes().toString()).toBe('x');
  });

  it('gives up with a clear error when nobody answers', async () => {
    const silent = await rawPeer();
    const started = Date.now();
    const error = await (await TftpClient.connect({ host: '127.0.0.1', port: silent.port, timeoutMs: 30, retries: 2 })).get('x', sink().stream).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/no answer from tftp:\/\/127\.0\.0\.1:\d+ after 3 tries/);
    expect(Date.now() - started).toBeLessThan(2_000);
    // Three requests, and one empty probe that asks the kernel whether the port is open at all.
    expect(silent.inbox.filter((packet) => packet.message.length > 0).length).toBe(3);
    expect(silent.inbox.filter((packet) => packet.message.length === 0).length).toBe(1);
  });

  it('reports the server\'s error in words', async () => {
    const { port } = await startTestServer();
    const error = await (await TftpClient.connect({ host: '127.0.0.1', port })).get('missing.bin', sink().stream).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TftpTransferError);
    expect((error as TftpTransferError).tftpCode).toBe(1);
    expect((error as Error).message).toBe('the server refused: file not found');
  });

  it('writes a download to a file only when it is complete', async () => {
    const service = await rawPeer();
    const dir = await mkdtemp(join(tmpdir(), 'wharf-tftp-client-'));
    const done = (await TftpClient.connect({ host: '127.0.0.1', port: service.port, blockSize: 512, timeoutMs: 30, retries: 1 })).get('x', join(dir, 'x.bin')).catch((e: unknown) => e);
    const request = (await service.next())!;
    service.send(formatData(1, Buffer.alloc(512)), request.port);
    await service.next();
    expect(await done).toBeInstanceOf(TftpTransferError);
    expect(await readdir(dir)).toEqual([]);
    await writeFile(join(dir, 'keep'), 'x');
    expect(await readFile(join(dir, 'keep'), 'utf8')).toBe('x');
  });

  it('cancels with an AbortSignal and tells the server', async () => {
    const service = await rawPeer();
    const controller = new AbortController();
    const done = (await TftpClient.connect({ host: '127.0.0.1', port: service.port, blockSize: 512, timeoutMs: 5_000 })).get('x', sink().stream, { signal: controller.signal }).catch((e: unknown) => e);
    const request = (await service.next())!;
    service.send(formatData(1, Buffer.alloc(512)), request.port);
    expect(parsePacket((await service.next())!.message)).toEqual({ type: 'ACK', block: 1 });
    controller.abort();
    expect(parsePacket((await service.next())!.message)).toMatchObject({ type: 'ERROR', code: 0 });
    expect((await done) as Error).toBeInstanceOf(TftpTransferError);
  });

  it('uploads to a server that ignores options: lockstep from ACK 0', async () => {
    const service = await rawPeer();
    const transfer = await rawPeer();
    const done = (await TftpClient.connect({ host: '127.0.0.1', port: service.port, blockSize: 1468, timeoutMs: 500 })).put(Buffer.alloc(600, 2), 'up.bin');
    const request = (await service.next())!;
    expect(parsePacket(request.message)).toMatchObject({ type: 'WRQ', filename: 'up.bin' });
    transfer.send(formatAck(0), request.port);
    const data1 = parsePacket((await transfer.next())!.message);
    expect(data1).toMatchObject({ type: 'DATA', block: 1 });
    expect((data1 as { data: Buffer }).data.length).toBe(512);
    // A duplicate ACK 0 must not cause a resend.
    transfer.send(formatAck(0), request.port);
    transfer.send(formatAck(1), request.port);
    const data2 = parsePacket((await transfer.next())!.message);
    expect(data2).toMatchObject({ type: 'DATA', block: 2 });
    expect((data2 as { data: Buffer }).data.length).toBe(88);
    transfer.send(formatAck(2), request.port);
    expect(await done).toMatchObject({ optionsAccepted: false, bytes: 600 });
    expect(transfer.inbox).toEqual([]);
  });
});
