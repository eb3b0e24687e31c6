/**
 * The seeds' own file-server clients, unchanged but for the server address (see the copies in
 * seed-programs/), against wharf's FTP service with its seed front ends on: seed 000 §9's menu
 * client, seed 002's JSON client (register, login, put with its progress bar, and resume after a
 * killed upload), and seed 001's send_file. They are Python 3 programs (input(), print()).
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runTool, skipReason } from '../helpers/tools.js';
import { bigFile, sha256File, startTestFtp, stopTestFtps, tempDir, type TestFtpServer } from '../services/ftp/support.js';

const seedPrograms = resolve(import.meta.dirname, 'seed-programs');
const pythonSkip = skipReason('python3');

let server: TestFtpServer;
let local: string;
const port = (name: string) => String(server.service.seedPorts[name]);

beforeAll(async () => {
  local = await tempDir();
  server = await startTestFtp({ seed000: true, seed000Port: 0, seed001: true, seed001Port: 0, seed002: true, seed002Port: 0, seedAccount: 'alice' });
}, 20_000);

afterAll(async () => {
  await stopTestFtps();
});

/**
 * Seed 000's client is a menu a person types into: each command is typed once the prompt is back,
 * a moment later, as a person would (the seed separates messages by time, not by bytes).
 */
async function typeInto(args: string[], lines: string[], cwd: string): Promise<string> {
  const child = spawn('python3', args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
  let out = '';
  child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out += chunk.toString()));
  const exited = new Promise<number | null>((done) => child.on('close', done));
  const prompts = () => out.split('请输入命令:').length - 1;
  const deadline = Date.now() + 10_000;
  for (const [index, line] of lines.entries()) {
    while (prompts() <= index && Date.now() < deadline && child.exitCode === null) await sleep(20);
    await sleep(250);
    child.stdin.write(`${line}\n`);
  }
  child.stdin.end();
  const code = await Promise.race([exited, sleep(10_000).then(() => 'timeout')]);
  if (code === 'timeout') child.kill('SIGKILL');
  return out;
}

describe.skipIf(pythonSkip)(`seed 000 §9's ftp_client ${pythonSkip ?? ''}`, () => {
  it('lists, stores, lists again, refuses a second store, fetches the file back byte for byte, exits', async () => {
    const upload = join(local, 'notes000.bin');
    await writeFile(upload, Buffer.concat([Buffer.from('第一行\n'), Buffer.alloc(300_000, 7), Buffer.from('end\n')]));
    const fetchDir = await tempDir();
    const out = await typeInto(
      [join(seedPrograms, 'ftp_client_000.py'), '127.0.0.1', port('seed-000')],
      ['list', `stor ${upload}`, 'list', `stor ${upload}`, 'retr notes000.bin', 'retr missing.bin', 'exit'],
      fetchDir,
    );
    expect(out).toContain('文件库为空');
    expect(out).toContain('请输入命令:notes000.bin\n');
    expect(out).toContain('文件已存在');
    expect(out).toContain('文件不存在');
    expect(out).toContain('谢谢使用');
    expect(await sha256File(join(server.home('alice'), 'notes000.bin'))).toBe(await sha256File(upload));
    expect(await readFile(join(fetchDir, 'notes000.bin'))).toEqual(await readFile(upload));
  }, 20_000);
});

describe.skipIf(pythonSkip)(`seed 002's FTP client ${pythonSkip ?? ''}`, () => {
  const client = () => join(seedPrograms, 'ftp_client_002.py');

  it('registers, logs in, and uploads with its progress bar into its own home', async () => {
    const file = join(local, 'report.txt');
    await writeFile(file, 'x'.repeat(50_000));
    const input = `2\ncarol\ns3cret-pw\n1\ncarol\nwrong\ncarol\ns3cret-pw\nput ${file}\nq\n`;
    const result = await runTool('python3', [client(), '127.0.0.1', port('seed-002')], { input, timeoutMs: 10_000 });
    const out = result.stdout.toString();
    expect(out).toContain('欢迎使用...');
    expect(out).toContain('注册成功');
    expect(out).toContain('密码错误');
    expect(out).toContain('登陆成功');
    expect(out).toContain('>'.repeat(100) + '100%');
    expect(out).toContain('上传成功,文件大小:50000 已发送大小:50000');
    expect(result.code).toBe(0);
    expect(await readFile(join(server.home('carol'), 'report.txt'), 'utf8')).toBe('x'.repeat(50_000));
    expect((await server.store.quota.usage('carol')).bytesUsed).toBe(50_000);
  }, 15_000);

  it('resumes an upload that was killed: the second run sends only the rest', async () => {
    await server.store.accounts.add('dave', 'pw-dave');
    const file = join(local, 'big.bin');
    bigFile(file, 24 * 1024 * 1024);
    const home = server.home('dave');
    const login = '1\ndave\npw-dave\n';
    const child = spawn('python3', [client(), '127.0.0.1', port('seed-002')], { stdio: ['pipe', 'ignore', 'ignore'] });
    child.stdin.end(`${login}put ${file}\nq\n`);
    const exited = new Promise((done) => child.on('close', done));
    // Kill it once the server holds a few MiB of the upload (as a hidden working file).
    const deadline = Date.now() + 10_000;
    for (;;) {
      const names = await readdir(home).catch(() => [] as string[]);
      const working = names.find((n) => n.startsWith('.wharf-upload.'));
      if (working && ((await stat(join(home, working)).catch(() => undefined))?.size ?? 0) > 2 * 1024 * 1024) break;
      if (Date.now() > deadline || child.exitCode !== null) throw new Error('the upload was not caught in flight');
      await sleep(5);
    }
    child.kill('SIGKILL');
    await exited;
    // The server keeps what arrived as the partial that the next put continues.
    let partial = 0;
    for (let i = 0; i < 200 && partial === 0; i++) {
      partial = (await stat(join(home, '.wharf-partial.big.bin')).catch(() => undefined))?.size ?? 0;
      if (partial === 0) await sleep(10);
    }
    expect(partial).toBeGreaterThan(2 * 1024 * 1024);
    expect(partial).toBeLessThan(24 * 1024 * 1024);

    const again = await runTool('python3', [client(), '127.0.0.1', port('seed-002')], { input: `${login}put ${file}\nq\n`, timeoutMs: 15_000 });
    const out = again.stdout.toString();
    expect(again.code).toBe(0);
    // The bar starts where the partial ended, not at 0%.
    const first = /\r>*(\d+)%/.exec(out);
    expect(Number(first?.[1])).toBeGreaterThanOrEqual(Math.floor((partial / (24 * 1024 * 1024)) * 100));
    expect(out).toContain('上传成功,文件大小:25165824 已发送大小:25165824');
    expect(await sha256File(join(home, 'big.bin'))).toBe(await sha256File(file));
    expect((await readdir(home)).filter((n) => n.startsWith('.wharf-'))).toEqual([]);
    expect((await server.store.quota.usage('dave')).bytesUsed).toBe(24 * 1024 * 1024);
  }, 25_000);
});

describe.skipIf(pythonSkip)(`seed 001's send_file ${pythonSkip ?? ''}`, () => {
  it('sends a file in its header frame, and it lands under its base name', async () => {
    const file = join(local, 'poem.txt');
    await writeFile(file, '床前明月光\n疑是地上霜\n'.repeat(5000));
    const result = await runTool('python3', [join(seedPrograms, 'send_file_001.py'), '127.0.0.1', port('seed-001'), 'put', file], { timeoutMs: 10_000 });
    expect(result.code).toBe(0);
    const stored = join(server.home('alice'), 'poem.txt');
    for (let i = 0; i < 200; i++) {
      if ((await stat(stored).catch(() => undefined))?.size === (await stat(file)).size) break;
      await sleep(10);
    }
    expect(await sha256File(stored)).toBe(await sha256File(file));
  }, 15_000);
});
