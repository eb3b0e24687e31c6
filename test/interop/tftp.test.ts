/**
 * TFTP with real peers: curl, the tftp-hpa client and atftp against wharf's server, and wharf's
 * client against atftpd. Each tool is skipped with a reason where it is missing (and fails in CI,
 * which installs them all).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import dgram from 'node:dgram';
import { chmod, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../src/core/logger.js';
import { serviceContext } from '../../src/core/service.js';
import { TftpClient } from '../../src/services/tftp/client.js';
import { startTftp, tftpConfigSchema, type TftpRunningService } from '../../src/services/tftp/server.js';
import { sha256 } from '../services/tftp/support.js';
import { runTool, skipReason } from '../helpers/tools.js';

const noCurl = skipReason('curl');
const noHpa = skipReason('tftp');
const noAtftp = skipReason('atftp');
const noAtftpd = skipReason('atftpd');
const skipped = (reason: string | undefined) => (reason ? ` (skipped: ${reason})` : '');

let server: TftpRunningService;
let port = 0;
let root = '';
let work = '';
const files: Record<string, Buffer> = {};

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'wharf-tftp-interop-'));
  work = await mkdtemp(join(tmpdir(), 'wharf-tftp-work-'));
  const sizes: Record<string, number> = { 'empty.bin': 0, 'block.bin': 512, 'multiple.bin': 1468 * 20, 'random.bin': 1_234_567, 'big.bin': 5 * 1024 * 1024 + 7 };
  for (const [name, size] of Object.entries(sizes)) {
    files[name] = randomBytes(size);
    await writeFile(join(root, name), files[name]!);
  }
  files['text.txt'] = Buffer.from('first line\nsecond\r\nbare\rcarriage\n'.repeat(100));
  await writeFile(join(root, 'text.txt'), files['text.txt']);
  server = await startTftp(
    serviceContext({ name: 'tftp', logger: silentLogger(), dataDir: tmpdir() }),
    tftpConfigSchema.parse({ port: 0, root, allowWrite: true }),
  );
  port = server.addresses[0]!.port;
});

afterAll(async () => {
  await server?.stop(500);
});

const out = (name: string) => join(work, name);
const stored = (name: string) => readFile(join(root, name));

describe('curl (tftp://) against wharf', () => {
  it.skipIf(noCurl)(`gets files of 0, 512, 20×1468 bytes and 1.2 MB with blksize 512, 1468 and 65464${skipped(noCurl)}`, async () => {
    for (const blksize of [undefined, 512, 1468, 65464]) {
      for (const name of ['empty.bin', 'block.bin', 'multiple.bin', 'random.bin']) {
        const target = out(`curl-${blksize}-${name}`);
        const args = ['-s', '-S', ...(blksize ? ['--tftp-blksize', String(blksize)] : []), '-o', target, `tftp://127.0.0.1:${port}/${name}`];
        const result = await runTool('curl', args, { timeoutMs: 20_000 });
        expect(result.code, `${name} blksize ${blksize}: ${result.stderr}`).toBe(0);
        expect(sha256(await readFile(target)), `${name} blksize ${blksize}`).toBe(sha256(files[name]!));
      }
    }
  });

  it.skipIf(noCurl)(`puts with -T (upload), with and without --tftp-blksize${skipped(noCurl)}`, async () => {
    const data = randomBytes(300_001);
    await writeFile(out('curl-up.bin'), data);
    for (const [remote, extra] of [['curl-put.bin', []], ['curl-put-1468.bin', ['--tftp-blksize', '1468']]] as const) {
      const result = await runTool('curl', ['-s', '-S', ...extra, '-T', out('curl-up.bin'), `tftp://127.0.0.1:${port}/${remote}`], { timeoutMs: 20_000 });
      expect(result.code, result.stderr).toBe(0);
      expect(sha256(await stored(remote))).toBe(sha256(data));
    }
  });

  it.skipIf(noCurl)(`gets error 1 for a missing file and error 2 for ../${skipped(noCurl)}`, async () => {
    // curl's exit codes carry the TFTP error (its message text is unreliable for TFTP).
    const missing = await runTool('curl', ['-s', '-o', out('nothing'), `tftp://127.0.0.1:${port}/missing.bin`]);
    expect(missing.code).toBe(68); // CURLE_TFTP_NOTFOUND
    await writeFile(out('escape.bin'), 'x');
    const escape = await runTool('curl', ['-s', '--path-as-is', '-T', out('escape.bin'), `tftp://127.0.0.1:${port}/../escape.bin`]);
    expect(escape.code).toBe(69); // CURLE_TFTP_PERM: access violation
  });
});

describe('tftp-hpa client against wharf', () => {
  it.skipIf(noHpa)(`gets and puts in binary mode${skipped(noHpa)}`, async () => {
    for (const name of ['empty.bin', 'block.bin', 'random.bin']) {
      const result = await runTool('tftp', ['127.0.0.1', String(port), '-m', 'binary', '-c', 'get', name, out(`hpa-${name}`)], { timeoutMs: 20_000 });
      expect(result.code, result.stderr).toBe(0);
      expect(sha256(await readFile(out(`hpa-${name}`))), name).toBe(sha256(files[name]!));
    }
    const put = await runTool('tftp', ['127.0.0.1', String(port), '-m', 'binary', '-c', 'put', join(root, 'random.bin'), 'hpa-put.bin'], { timeoutMs: 20_000 });
    expect(put.code, put.stderr).toBe(0);
    expect(sha256(await stored('hpa-put.bin'))).toBe(sha256(files['random.bin']!));
  });

  it.skipIf(noHpa)(`converts netascii both ways${skipped(noHpa)}`, async () => {
    const get = await runTool('tftp', ['127.0.0.1', String(port), '-m', 'netascii', '-c', 'get', 'text.txt', out('hpa-text.txt')]);
    expect(get.code, get.stderr).toBe(0);
    expect(await readFile(out('hpa-text.txt'))).toEqual(files['text.txt']);
    const put = await runTool('tftp', ['127.0.0.1', String(port), '-m', 'netascii', '-c', 'put', out('hpa-text.txt'), 'hpa-text-back.txt']);
    expect(put.code, put.stderr).toBe(0);
    expect(await stored('hpa-text-back.txt')).toEqual(files['text.txt']);
  });
});

describe('atftp against wharf', () => {
  it.skipIf(noAtftp)(`gets with windowsize 16 and blksize 1468, and in lockstep${skipped(noAtftp)}`, async () => {
    for (const options of [['--option', 'blksize 1468', '--option', 'windowsize 16'], ['--option', 'windowsize 4'], []]) {
      for (const name of ['empty.bin', 'multiple.bin', 'big.bin']) {
        const target = out(`atftp-${options.length}-${name}`);
        const result = await runTool('atftp', [...options, '-g', '-r', name, '-l', target, '127.0.0.1', String(port)], { timeoutMs: 30_000 });
        expect(result.code, `${name} ${options.join(' ')}: ${result.stderr}`).toBe(0);
        expect(sha256(await readFile(target)), `${name} ${options.join(' ')}`).toBe(sha256(files[name]!));
      }
    }
  });

  it.skipIf(noAtftp)(`gets 40 MiB at blksize 512: block numbers wrap past 65535${skipped(noAtftp)}`, async () => {
    const data = randomBytes(40 * 1024 * 1024);
    await writeFile(join(root, 'forty.bin'), data);
    const target = out('atftp-forty.bin');
    const result = await runTool('atftp', ['--option', 'blksize 512', '--option', 'windowsize 32', '-g', '-r', 'forty.bin', '-l', target, '127.0.0.1', String(port)], { timeoutMs: 60_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(sha256(await readFile(target))).toBe(sha256(data));
    await rm(target);
  }, 60_000);

  it.skipIf(noAtftp)(`puts with windowsize 16 and blksize 1468${skipped(noAtftp)}`, async () => {
    const result = await runTool('atftp', ['--option', 'blksize 1468', '--option', 'windowsize 16', '-p', '-l', join(root, 'big.bin'), '-r', 'atftp-put.bin', '127.0.0.1', String(port)], { timeoutMs: 30_000 });
    expect(result.code, result.stderr).toBe(0);
    expect(sha256(await stored('atftp-put.bin'))).toBe(sha256(files['big.bin']!));
  });
});

describe('wharf client against atftpd', () => {
  let atftpd: ChildProcess | undefined;
  let atftpdPort = 0;
  let atftpdRoot = '';

  beforeAll(async () => {
    if (noAtftpd) return;
    atftpdRoot = await mkdtemp(join(tmpdir(), 'wharf-atftpd-'));
    // atftpd drops to `nobody`: the folder must be world-writable, the files world-readable.
    await chmod(atftpdRoot, 0o777);
    for (const name of ['empty.bin', 'block.bin', 'multiple.bin', 'big.bin']) {
      await writeFile(join(atftpdRoot, name), files[name]!);
      await chmod(join(atftpdRoot, name), 0o644);
    }
    atftpdPort = await freeUdpPort();
    atftpd = spawn('atftpd', ['--daemon', '--no-fork', '--port', String(atftpdPort), '--bind-address', '127.0.0.1', '--logfile', join(atftpdRoot, '..', `atftpd-${atftpdPort}.log`), atftpdRoot], {
      stdio: 'ignore',
    });
    await waitForTftp(atftpdPort);
  });

  afterAll(async () => {
    if (atftpd && atftpd.exitCode === null) {
      const exited = new Promise((resolve) => atftpd!.once('exit', resolve));
      atftpd.kill('SIGTERM');
      await exited;
    }
    if (atftpdRoot) await rm(atftpdRoot, { recursive: true, force: true });
  });

  it.skipIf(noAtftpd)(`gets in lockstep, with blksize, and with windowsize 16${skipped(noAtftpd)}`, async () => {
    for (const [blockSize, windowSize] of [[512, 1], [1468, 1], [1468, 16], [65464, 4]] as const) {
      const client = await TftpClient.connect({ host: '127.0.0.1', port: atftpdPort, blockSize, windowSize });
      for (const name of ['empty.bin', 'block.bin', 'multiple.bin', 'big.bin']) {
        const target = out(`wharf-atftpd-${blockSize}-${windowSize}-${name}`);
        const result = await client.get(name, target);
        expect(sha256(await readFile(target)), `${name} ${blockSize}/${windowSize}`).toBe(sha256(files[name]!));
        expect(result.optionsAccepted).toBe(true);
        if (name === 'big.bin') expect(result.transferSize).toBe(files[name]!.length);
      }
    }
  });

  it.skipIf(noAtftpd)(`puts, lockstep and windowed${skipped(noAtftpd)}`, async () => {
    for (const [blockSize, windowSize] of [[512, 1], [1468, 16]] as const) {
      const name = `wharf-put-${blockSize}-${windowSize}.bin`;
      await (await TftpClient.connect({ host: '127.0.0.1', port: atftpdPort, blockSize, windowSize })).put(files['big.bin']!, name);
      expect(sha256(await readFile(join(atftpdRoot, name)))).toBe(sha256(files['big.bin']!));
    }
  });

  it.skipIf(noAtftpd)(`reports atftpd's error for a missing file${skipped(noAtftpd)}`, async () => {
    const error = await (await TftpClient.connect({ host: '127.0.0.1', port: atftpdPort })).get('missing.bin', out('x')).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/the server refused: file not found/i);
  });
});

async function freeUdpPort(): Promise<number> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  const { port: free } = socket.address();
  await new Promise<void>((resolve) => socket.close(() => resolve()));
  return free;
}

/** Any TFTP server answers a garbage datagram with an ERROR: wait for that. */
async function waitForTftp(target: number, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const socket = dgram.createSocket('udp4');
    const answered = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), 200);
      socket.on('message', () => {
        clearTimeout(timer);
        resolve(true);
      });
      socket.on('error', () => {});
      socket.send(Buffer.from([0, 99]), target, '127.0.0.1');
    });
    socket.close();
    if (answered) return;
  }
  throw new Error(`atftpd did not answer on port ${target}`);
}
