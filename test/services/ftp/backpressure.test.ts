/**
 * Peers that never read: what the server holds for them stays bounded, and other clients are
 * served meanwhile (docs/ftp.md, "Memory: per connection and per process").
 */
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import net from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { RawControl, readAll, startTestFtp, stopTestFtps } from './support.js';

afterEach(async () => {
  await stopTestFtps();
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('ftp server: peers that do not read', () => {
  it('stops answering a control peer that pipelines 100,000 commands without reading, then answers them all once it reads', async () => {
    // A peer owed more than 1 MiB is dropped as not reading: answering everything that arrived in
    // one read (some 5 MB of replies to 64 KiB of commands) would pass that.
    const server = await startTestFtp({ writeHighWaterBytes: 64 * 1024, maxWriteQueueBytes: 1024 * 1024 });
    const commands = 100_000;
    const peer = net.connect({ port: server.port, host: '127.0.0.1' });
    peer.on('error', () => {});
    let dropped = false;
    peer.on('close', () => (dropped = true));
    await once(peer, 'connect');
    peer.pause();
    // HELP is 6 bytes in and about 500 out: unbounded, the replies would be some 50 MB.
    peer.write(Buffer.from('HELP\r\n'.repeat(commands)));
    await sleep(1_500);
    const owedWhileNotReading = server.metrics.bytesOut;
    // What was written is with the kernel's socket buffers or in the (bounded) queue.
    expect(owedWhileNotReading).toBeLessThan(12 * 1024 * 1024);

    // Another client is served meanwhile.
    const other = await RawControl.open(server.port);
    await other.login();
    expect((await other.cmd('NOOP')).code).toBe(200);
    other.close();

    // Once the peer reads, every reply arrives: it was slowed down, not dropped.
    let helpReplies = 0;
    let tail = '';
    peer.on('data', (chunk: Buffer) => {
      const text = tail + chunk.toString('latin1');
      const complete = text.lastIndexOf('\n') + 1;
      helpReplies += text.slice(0, complete).match(/^214 Help OK\.\r$/gm)?.length ?? 0;
      tail = text.slice(complete);
    });
    peer.resume();
    const deadline = Date.now() + 30_000;
    while (helpReplies < commands && !dropped && Date.now() < deadline) await sleep(50);
    expect(helpReplies).toBe(commands);
    expect(dropped).toBe(false);
    peer.destroy();
  }, 45_000);

  it('stops reading from a peer that floods commands while one command is still being answered (a failed login, answered late)', async () => {
    const server = await startTestFtp({}, { throttle: { baseDelayMs: 2_000, maxDelayMs: 2_000 } });
    const peer = net.connect({ port: server.port, host: '127.0.0.1' });
    peer.on('error', () => {});
    await once(peer, 'connect');
    peer.write('USER alice\r\nPASS wrong\r\n');
    await sleep(200); // the PASS is being answered (late) now
    // 64 MiB of short, valid commands: held as they arrive, they would all be in the server's memory.
    const flood = Buffer.from('NOOP\r\n'.repeat((64 * 1024 * 1024) / 6));
    peer.write(flood);
    await sleep(1_000);
    // The server stopped reading: most of the flood is still on the peer's side (the kernel's
    // buffers on loopback take a few MiB).
    expect(peer.writableLength).toBeGreaterThan(32 * 1024 * 1024);
    peer.destroy();
  }, 20_000);

  it('holds a bounded amount for a RETR whose data peer never reads, and serves others meanwhile', async () => {
    const server = await startTestFtp();
    const big = Buffer.alloc(64 * 1024 * 1024, 7);
    await writeFile(join(server.home('alice'), 'big.bin'), big);
    await writeFile(join(server.home('alice'), 'small.txt'), 'small\n');
    const stuck = await RawControl.open(server.port);
    await stuck.login();
    await stuck.cmd('TYPE I');
    const data = await stuck.passive();
    data.pause();
    expect((await stuck.cmd('RETR big.bin')).code).toBe(150);
    await sleep(1_500);
    const status = await stuck.cmd('STAT');
    const sent = Number(/, (\d+) of/.exec(status.lines.join(' '))?.[1]);
    // Two 1 MiB read buffers and what the kernel's socket buffers take, far from the 64 MiB file.
    expect(sent).toBeLessThan(16 * 1024 * 1024);
    // And `wharf status` sees it as the one transfer in progress.
    expect(await server.service.status?.()).toEqual({ transfers: 1 });

    const other = await RawControl.open(server.port);
    await other.login();
    await other.cmd('TYPE I');
    const otherData = await other.passive();
    const received = readAll(otherData);
    expect((await other.cmd('RETR small.txt')).code).toBe(150);
    expect((await received).toString()).toBe('small\n');
    expect((await other.next())?.code).toBe(226);
    other.close();

    await stuck.cmd('ABOR').catch(() => undefined);
    data.destroy();
    stuck.close();
  }, 30_000);
});
