/**
 * Seed 002, in its order: the remote command client (§3), the UDP pair (§5), the select server
 * with its greeting and its client (四 3), the selectors server (四 7), socketserver's
 * ThreadingTCPServer / ForkingTCPServer with their client (五), and the FTP exercise's JSON
 * client (作业练习). Each seed client runs against wharf; `wharf echo` runs against each seed
 * server it can talk to. All Python 3. (The exec and FTP exercise servers have no wharf client:
 * wharf's speak its own exec protocol and FTP.)
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWharf, startWharf } from '../helpers/cli.js';
import { runTool } from '../helpers/tools.js';
import { startExec, type ExecFixture } from '../services/exec/support.js';
import { bigFile, sha256File, startTestFtp, stopTestFtps, tempDir, type TestFtpServer } from '../services/ftp/support.js';
import { killPrograms, runClient, noPython3, program, skipped, startSeedServer } from './support.js';

const skip = skipped(noPython3);

const seedClient = (name: string, port: number, input: string) => runClient('python3', name, port, input);

afterAll(() => killPrograms());

describe.skipIf(noPython3)(`seed 002 §3: the remote command client against \`wharf exec serve --seed-protocol\`${skip}`, { concurrent: true }, () => {
  let fixture: ExecFixture;
  beforeAll(async () => {
    fixture = await startExec({ seedProtocol: true });
  });
  afterAll(() => fixture.stop());

  it('runs the commands marked seed; anything else is `cmd error`', async () => {
    const result = await seedClient('exec_client.py', fixture.port, 'hello\nquiet\nrm -rf /\nexit\n');
    expect(result.code).toBe(0);
    expect(result.stdout.toString()).toBe('>>:data size 6 ,recv size 6 \nhello\n\n>>:data size 9 ,recv size 9 \ncmd error\n>>:data size 9 ,recv size 9 \ncmd error\n>>:');
  });
});

describe.skipIf(noPython3)(`seed 002 §5: UDP${skip}`, { concurrent: true }, () => {
  it("the seed's client prints the (answer, address) pair from `wharf echo serve --reply ok`", async () => {
    const server = await startWharf(['echo', 'serve', '--port', '0', '--no-tcp', '--reply', 'ok'], { expectLines: 1 });
    try {
      const port = server.port('echo', 'udp');
      const result = await seedClient('udp_client_002.py', port, 'hello\n你好\nexit\n');
      expect(result.code).toBe(0);
      const pair = `(b'ok', ('127.0.0.1', ${port}))\n`;
      expect(result.stdout.toString('utf8')).toBe(`数据:${pair}数据:${pair}数据:`);
    } finally {
      await server.stop();
    }
  });

  it("`wharf echo -u` gets ok from the seed's server", async () => {
    const { server, port } = await startSeedServer('python3', 'udp_server_002.py', 'udp');
    const result = await runWharf(['echo', '-u', '-p', String(port)], { input: 'hello\n' });
    expect(result.stdout).toBe('ok\n');
    await server.waitFor(/^b'hello' 127\.0\.0\.1 \d+$/m);
  });
});

describe.skipIf(noPython3)(`seed 002 四: select and selectors servers${skip}`, { concurrent: true }, () => {
  it("the select server's client reads the hello... greeting, then response:-prefixed answers, from wharf", async () => {
    const server = await startWharf(['echo', 'serve', '--port', '0', '--no-udp', '--greeting', 'hello...', '--prefix', 'response:'], { expectLines: 1 });
    try {
      const result = await seedClient('select_client.py', server.port('echo', 'tcp'), 'ping\n你好\n');
      // The client has no way out but the end of its input (EOFError).
      expect(result.stderr).toMatch(/EOFError/);
      expect(result.stdout.toString('utf8')).toBe('hello...\n>>>:response:ping\n>>>:response:你好\n>>>:');
    } finally {
      await server.stop();
    }
  });

  it("`wharf echo --framing raw --greeting` reads the seed's select server's greeting, then its answers", async () => {
    const { port } = await startSeedServer('python3', 'select_server_002.py', 'tcp');
    const result = await runWharf(['echo', '-p', String(port), '--framing', 'raw', '--greeting'], { input: 'ping\n你好\n' });
    expect(result.stdout).toBe('hello...\nresponse:ping\nresponse:你好\n');
  });

  it("`wharf echo` (lines) gets each line back from the seed's selectors server", async () => {
    const { server, port } = await startSeedServer('python3', 'selectors_server_002.py', 'tcp');
    const result = await runWharf(['echo', '-p', String(port)], { input: 'hello\n你好\n' });
    expect(result.stdout).toBe('hello\n你好\n');
    await server.waitFor('你好\n');
  });
});

describe.skipIf(noPython3)(`seed 002 五: socketserver${skip}`, { concurrent: true }, () => {
  it("the client reads 欢迎致电... then its echoes from wharf, which prints each message", async () => {
    const server = await startWharf(['echo', 'serve', '--port', '0', '--no-udp', '--greeting', '欢迎致电... ', '--print'], { expectLines: 1 });
    try {
      let printed = '';
      server.child.stdout.on('data', (d: Buffer) => (printed += d.toString('utf8')));
      const result = await seedClient('socketserver_client.py', server.port('echo', 'tcp'), 'hello\nexit\n');
      expect(result.code).toBe(0);
      expect(result.stdout.toString('utf8')).toBe('欢迎致电... \n>>:hello\n>>:');
      for (let i = 0; i < 250 && !/^From \('127\.0\.0\.1', \d+\) : hello$/m.test(printed); i++) await sleep(20);
      expect(printed).toMatch(/^From \('127\.0\.0\.1', \d+\) : hello$/m);
    } finally {
      await server.stop();
    }
  });

  for (const variant of ['ThreadingTCPServer', 'ForkingTCPServer']) {
    it(`\`wharf echo --framing raw --greeting\` against the seed's ${variant}`, async () => {
      const { server, port } = await startSeedServer('python3', 'socketserver_server_002.py', 'tcp', { extraArgs: variant === 'ForkingTCPServer' ? ['forking'] : [] });
      const result = await runWharf(['echo', '-p', String(port), '--framing', 'raw', '--greeting'], { input: 'hello\n你好\n' });
      expect(result.stdout).toBe('欢迎致电... \nhello\n你好\n');
      await server.waitFor(/\[\('127\.0\.0\.1', \d+\)\] says 你好\./);
      // Once its client has gone, the seed's handle() spins on recv() returning b'' (no exception
      // ends its loop), printing "says ." as fast as it can: stop it now.
      server.kill();
    });
  }
});

describe.skipIf(noPython3)(`seed 002 作业练习: the FTP exercise's JSON client against \`wharf ftp serve --seed-002\`${skip}`, () => {
  let server: TestFtpServer;
  let local: string;
  const port = (name: string) => String(server.service.seedPorts[name]);
  beforeAll(async () => {
    local = await tempDir();
    server = await startTestFtp({ seed002: true, seed002Port: 0 });
  });
  afterAll(() => stopTestFtps());

  const client = () => program('ftp_client_002.py');

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
    const stored = join(server.home('carol'), 'report.txt');
    for (let i = 0; i < 500 && (await stat(stored).catch(() => undefined)) === undefined; i++) await sleep(10);
    expect(await readFile(stored, 'utf8')).toBe('x'.repeat(50_000));
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
    // The client says 上传成功 once it has sent the last byte; the server stores the file when it
    // has read it (the seed's protocol has no answer for that).
    for (let i = 0; i < 500 && (await stat(join(home, 'big.bin')).catch(() => undefined)) === undefined; i++) await sleep(10);
    expect(await sha256File(join(home, 'big.bin'))).toBe(await sha256File(file));
    expect((await readdir(home)).filter((n) => n.startsWith('.wharf-'))).toEqual([]);
    expect((await server.store.quota.usage('dave')).bytesUsed).toBe(24 * 1024 * 1024);
  }, 25_000);
});
