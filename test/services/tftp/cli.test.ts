import { mkdtemp, readFile, readdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { TftpClient } from '../../../src/services/tftp/client.js';
import { spawn } from 'node:child_process';
import { WHARF_BIN, requireBuild, runWharf, startWharf, type RunningWharf } from '../../helpers/cli.js';
import { startTestServer, stopTestServers, writeRandomFile } from './support.js';

// Each run of the built command costs a Node start-up: few runs, each checking several things.

const started: RunningWharf[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((w) => w.stop()));
  await stopTestServers();
});

describe('wharf tftp (the command)', () => {
  it('get (to the default name, to stdout) and put, quiet when not on a terminal', async () => {
    const { root, port } = await startTestServer({ allowWrite: true });
    const data = await writeRandomFile(root, 'boot.img', 70_000);
    await writeFile(join(root, 'motd.txt'), 'hello\r\nworld\n');
    const dir = await mkdtemp(join(tmpdir(), 'wharf-tftp-cli-'));

    // No -o: the last segment of the remote name, in the current folder.
    const get = await runWharf(['tftp', 'get', '127.0.0.1', '/boot.img', '-p', String(port), '--windowsize', '4'], { cwd: dir });
    expect(get.stderr).toBe('');
    expect(get.stdout).toBe('');
    expect(get.code).toBe(0);
    expect((await readFile(join(dir, 'boot.img'))).equals(data)).toBe(true);

    // -o - writes to stdout; netascii is converted both ways (CR LF stays CR LF in the file).
    const text = await runWharf(['tftp', 'get', '127.0.0.1', 'motd.txt', '--port', String(port), '-o', '-', '--mode', 'netascii', '--blksize', '8']);
    expect(text.code).toBe(0);
    expect(text.stdout).toBe('hello\r\nworld\n');

    const put = await runWharf(['tftp', 'put', '127.0.0.1', join(dir, 'boot.img'), '--as', 'uploaded.img', '-p', String(port), '--blksize', '512'], { cwd: dir });
    expect(put.code).toBe(0);
    expect((await readFile(join(root, 'uploaded.img'))).equals(data)).toBe(true);
  });

  it('exits 1 with one clear sentence on a TFTP error (no partial file), 2 on a bad flag', async () => {
    const { port } = await startTestServer();
    const dir = await mkdtemp(join(tmpdir(), 'wharf-tftp-cli-'));
    const missing = await runWharf(['tftp', 'get', '127.0.0.1', 'nope.bin', '-p', String(port)], { cwd: dir });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toBe(`wharf: cannot get nope.bin from 127.0.0.1:${port}: the server refused: file not found\n`);
    expect(await readdir(dir)).toEqual([]);

    const flag = await runWharf(['tftp', 'get', '127.0.0.1', 'x', '--blksize', '7']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/block size from 8 to 65464/);

    for (const bad of ['-1', '20000', 'soon']) {
      const spin = await runWharf(['tftp', 'get', '127.0.0.1', 'x', '--busy-poll', bad]);
      expect(spin.code, bad).toBe(2);
      expect(spin.stderr, bad).toMatch(/--busy-poll/);
    }
  });

  it('Ctrl-C during a get stops it and leaves nothing behind (no .part file)', async () => {
    requireBuild();
    const { root, port } = await startTestServer();
    // 8-byte blocks in lockstep: slow enough to be interrupted midway.
    await writeRandomFile(root, 'slow.bin', 2 * 1024 * 1024);
    const dir = await mkdtemp(join(tmpdir(), 'wharf-tftp-cli-'));
    const child = spawn(process.execPath, [WHARF_BIN, 'tftp', 'get', '127.0.0.1', 'slow.bin', '-p', String(port), '--blksize', '8'], { cwd: dir, env: { ...process.env, WHARF_LOG_LEVEL: 'warn' } });
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const closed = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline && !(await readdir(dir)).some((name) => name.endsWith('.part'))) await new Promise((r) => setTimeout(r, 10));
    expect((await readdir(dir)).some((name) => name.endsWith('.part'))).toBe(true);
    child.kill('SIGINT');
    expect(await closed).toBe(130);
    expect(stderr).toMatch(/cannot get slow\.bin from .*: the transfer was cancelled/);
    expect(await readdir(dir)).toEqual([]);
  });

  it('wharf tftp serve: root under the data folder by default, --allow-write, --max-upload', async () => {
    const data = await mkdtemp(join(tmpdir(), 'wharf-tftp-data-'));
    const server = await startWharf(['tftp', 'serve', '--port', '0', '--data', data, '--allow-write', '--max-upload', '1K'], { expectLines: 1 });
    started.push(server);
    const client = await TftpClient.connect({ host: '127.0.0.1', port: server.port('tftp', 'udp') });
    await writeFile(join(data, 'files', 'tftp', 'pxelinux.0'), 'PXE');
    const out = new PassThrough();
    const chunks: Buffer[] = [];
    out.on('data', (c: Buffer) => chunks.push(c));
    await client.get('pxelinux.0', out);
    expect(Buffer.concat(chunks).toString()).toBe('PXE');
    await client.put(Buffer.from('small'), 'small.txt');
    expect(await readFile(join(data, 'files', 'tftp', 'small.txt'), 'utf8')).toBe('small');
    const tooBig = await client.put(Buffer.alloc(2000), 'big.bin').catch((e: unknown) => e);
    expect((tooBig as Error).message).toMatch(/too large/);
    const again = await client.put(Buffer.from('other'), 'small.txt').catch((e: unknown) => e);
    expect((again as Error).message).toMatch(/file already exists/);
  });
});
