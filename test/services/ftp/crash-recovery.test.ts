/**
 * A server killed (`kill -9`) mid-upload and started again: the upload resumes from where the bytes
 * on disk end, no hidden file is left behind, and the quota counts what is on disk. The server is a
 * real `wharf ftp serve` process (dist/), so the kill is a real one.
 */
import { existsSync } from 'node:fs';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runWharf, startWharf, tempDataDir, type RunningWharf } from '../../helpers/cli.js';
import { runTool, skipReason } from '../../helpers/tools.js';
import { RawControl, readAll, sha256 } from './support.js';

const running: RunningWharf[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((w) => w.stop('SIGKILL')));
});

const SIZE = 12 * 1024 * 1024;
const KILL_AT = 5 * 1024 * 1024;

function payload(): Buffer {
  const bytes = Buffer.alloc(SIZE);
  for (let i = 0; i < bytes.length; i++) bytes[i] = (i * 31 + (i >> 13)) & 255;
  return bytes;
}

async function serve(data: string): Promise<{ wharf: RunningWharf; port: number }> {
  const wharf = await startWharf(['ftp', 'serve', '--port', '0', '--passive-ports', '0', '--data', data], { expectLines: 1 });
  running.push(wharf);
  return { wharf, port: wharf.port('ftp', 'tcp') };
}

/** Every file under the home, hidden ones included, with its size. */
async function filesIn(folder: string): Promise<Map<string, number>> {
  const found = new Map<string, number>();
  for (const name of await readdir(folder)) found.set(name, (await stat(join(folder, name))).size);
  return found;
}

async function quotaUsed(port: number): Promise<number> {
  const raw = await RawControl.open(port);
  await raw.login();
  const reply = await raw.cmd('SITE QUOTA');
  raw.close();
  return Number(/used=(\d+)/.exec(reply.lines.join(' '))?.[1]);
}

/** Start `STOR name` and kill the server with SIGKILL once `KILL_AT` bytes are on its disk. */
async function killMidUpload(wharf: RunningWharf, port: number, home: string, name: string, bytes: Buffer): Promise<number> {
  const raw = await RawControl.open(port);
  await raw.login();
  await raw.cmd('TYPE I');
  const data = await raw.passive();
  expect((await raw.cmd(`STOR ${name}`)).code).toBe(150);
  data.write(bytes.subarray(0, KILL_AT + 1024 * 1024));
  const deadline = Date.now() + 10_000;
  let onDisk = 0;
  while (onDisk < KILL_AT && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    for (const [file, size] of await filesIn(home)) if (file.startsWith('.wharf-upload.')) onDisk = Math.max(onDisk, size);
  }
  expect(onDisk).toBeGreaterThanOrEqual(KILL_AT);
  await wharf.stop('SIGKILL');
  // The server may have written more between the look and the kill: what counts is what it left.
  for (const [file, size] of await filesIn(home)) if (file.startsWith('.wharf-upload.')) onDisk = Math.max(onDisk, size);
  data.destroy();
  raw.close();
  return onDisk;
}

describe('ftp server after kill -9 mid-upload', () => {
  it('resumes the upload with SIZE + APPE (what curl -C - sends), leaves no hidden file and recounts the quota', async () => {
    const data = tempDataDir();
    expect((await runWharf(['user', 'add', 'alice', '--data', data, '--quota', '64M', '--password-stdin'], { input: 'secret\n' })).code).toBe(0);
    const home = join(data, 'files', 'users', 'alice');
    const bytes = payload();
    const first = await serve(data);
    await killMidUpload(first.wharf, first.port, home, 'big.bin', bytes);
    // Before the restart: the bytes sit in a working file, and the quota holds them plus what was reserved ahead.
    const leftover = [...(await filesIn(home)).entries()].find(([name]) => name.startsWith('.wharf-upload.'));
    expect(leftover).toBeDefined();
    const onDisk = leftover?.[1] as number;

    const second = await serve(data);
    const raw = await RawControl.open(second.port);
    await raw.login();
    await raw.cmd('TYPE I');
    const size = await raw.cmd('SIZE big.bin');
    expect(size.code).toBe(213);
    const resumeAt = Number(size.lines[0]);
    expect(resumeAt).toBe(onDisk);
    expect(await quotaUsed(second.port)).toBe(onDisk);
    const dataSocket = await raw.passive();
    expect((await raw.cmd('APPE big.bin')).code).toBe(150);
    dataSocket.end(bytes.subarray(resumeAt));
    expect((await raw.next(10_000))?.code).toBe(226);
    raw.close();

    expect([...(await filesIn(home)).entries()]).toEqual([['big.bin', SIZE]]);
    const download = await RawControl.open(second.port);
    await download.login();
    await download.cmd('TYPE I');
    const downloadSocket = await download.passive();
    const received = readAll(downloadSocket);
    expect((await download.cmd('RETR big.bin')).code).toBe(150);
    expect(sha256(await received)).toBe(sha256(bytes));
    download.close();
    expect(await quotaUsed(second.port)).toBe(SIZE);
  }, 60_000);

  it('keeps the previous version of a file whose replacement was interrupted, and resumes the replacement', async () => {
    const data = tempDataDir();
    expect((await runWharf(['user', 'add', 'alice', '--data', data, '--quota', '64M', '--password-stdin'], { input: 'secret\n' })).code).toBe(0);
    const home = join(data, 'files', 'users', 'alice');
    const bytes = payload();
    const previous = Buffer.from('the previous version\n');
    const first = await serve(data);
    // The home appears at the first login.
    await quotaUsed(first.port);
    await writeFile(join(home, 'doc.bin'), previous);
    await killMidUpload(first.wharf, first.port, home, 'doc.bin', bytes);

    const second = await serve(data);
    const raw = await RawControl.open(second.port);
    await raw.login();
    await raw.cmd('TYPE I');
    // Readers still get the previous version, whole; SIZE tells where the replacement stopped.
    const readSocket = await raw.passive();
    const read = readAll(readSocket);
    expect((await raw.cmd('RETR doc.bin')).code).toBe(150);
    expect((await read).toString()).toBe(previous.toString());
    expect((await raw.next())?.code).toBe(226);
    const resumeAt = Number((await raw.cmd('SIZE doc.bin')).lines[0]);
    expect(resumeAt).toBeGreaterThanOrEqual(KILL_AT);
    expect(await quotaUsed(second.port)).toBe(previous.length + resumeAt);
    const dataSocket = await raw.passive();
    expect((await raw.cmd('APPE doc.bin')).code).toBe(150);
    dataSocket.end(bytes.subarray(resumeAt));
    expect((await raw.next(10_000))?.code).toBe(226);
    raw.close();
    expect([...(await filesIn(home)).entries()]).toEqual([['doc.bin', SIZE]]);
    expect(await quotaUsed(second.port)).toBe(SIZE);
  }, 60_000);

  it.skipIf(skipReason('curl'))('lets curl -C - -T resume after the restart, sending only the rest', async () => {
    const data = tempDataDir();
    expect((await runWharf(['user', 'add', 'alice', '--data', data, '--quota', '64M', '--password-stdin'], { input: 'secret\n' })).code).toBe(0);
    const home = join(data, 'files', 'users', 'alice');
    const bytes = payload();
    const local = join(data, 'local.bin');
    await writeFile(local, bytes);
    const first = await serve(data);
    const onDisk = await killMidUpload(first.wharf, first.port, home, 'big.bin', bytes);
    const second = await serve(data);
    const curl = await runTool('curl', ['-sS', '-C', '-', '-T', local, '-u', 'alice:secret', '-w', '%{size_upload}', `ftp://127.0.0.1:${second.port}/big.bin`]);
    expect(curl.code, curl.stderr).toBe(0);
    expect(Number(curl.stdout.toString())).toBe(SIZE - onDisk);
    expect([...(await filesIn(home)).entries()]).toEqual([['big.bin', SIZE]]);
    expect(existsSync(join(home, 'big.bin'))).toBe(true);
    expect(await quotaUsed(second.port)).toBe(SIZE);
  }, 60_000);
});
