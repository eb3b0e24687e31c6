/**
 * Seed 000 §9, the FTP file server (S6): the seed's menu client (Python 3, unchanged but for the
 * server address) against wharf's FTP service with its seed-000 front end on. (The seed's server
 * keeps its files in /home/tarena/FTP/; no wharf client speaks its protocol: wharf's speaks FTP.)
 */
import { spawn } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sha256File, startTestFtp, stopTestFtps, tempDir, type TestFtpServer } from '../services/ftp/support.js';
import { noPython3, PROGRAMS } from './support.js';

const seedPrograms = PROGRAMS;
const pythonSkip = noPython3;

let server: TestFtpServer;
let local: string;
const port = (name: string) => String(server.service.seedPorts[name]);

beforeAll(async () => {
  local = await tempDir();
  server = await startTestFtp({ seed000: true, seed000Port: 0, seedAccount: 'alice' });
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

describe.skipIf(pythonSkip)(`seed 000 §9: the file server's menu client${pythonSkip ? ` (skipped: ${pythonSkip})` : ''}`, () => {
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
