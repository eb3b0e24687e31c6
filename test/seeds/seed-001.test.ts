/**
 * Seed 001, in its order: the header-framed file sender (send_file), then socketserver's
 * 单线程示例 and 并发示例, where the person at the server types each answer. The hello-world HTTP
 * server and its client are in docs/seeds.md: the client cannot run as printed, and wharf has no
 * HTTP client. All Python 3.
 */
import { stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runWharf, startWharf } from '../helpers/cli.js';
import { runTool } from '../helpers/tools.js';
import { sha256File, startTestFtp, stopTestFtps, tempDir, type TestFtpServer } from '../services/ftp/support.js';
import { killPrograms, noPython3, program, skipped, startSeedServer } from './support.js';

const skip = skipped(noPython3);

afterAll(async () => {
  killPrograms();
  await stopTestFtps();
});

describe.skipIf(noPython3)(`seed 001 socket文件传输: send_file against \`wharf ftp serve --seed-001\`${skip}`, () => {
  let server: TestFtpServer;
  beforeAll(async () => {
    server = await startTestFtp({ seed001: true, seed001Port: 0, seedAccount: 'alice' });
  });

  it('sends a file in its header frame, and it lands under its base name', async () => {
    const file = join(await tempDir(), 'poem.txt');
    await writeFile(file, '床前明月光\n疑是地上霜\n'.repeat(5000));
    const port = String(server.service.seedPorts['seed-001']);
    const result = await runTool('python3', [program('send_file_001.py'), '127.0.0.1', port, 'put', file], { timeoutMs: 10_000 });
    expect(result.code).toBe(0);
    const stored = join(server.home('alice'), 'poem.txt');
    for (let i = 0; i < 200; i++) {
      if ((await stat(stored).catch(() => undefined))?.size === (await stat(file)).size) break;
      await sleep(10);
    }
    expect(await sha256File(stored)).toBe(await sha256File(file));
  });
});

describe.skipIf(noPython3)(`seed 001 socketserver: answers typed at the server${skip}`, { concurrent: true }, () => {
  it("单线程示例's client gets the answer typed at `wharf echo serve --reply-from-console`", async () => {
    const server = await startWharf(['echo', 'serve', '--port', '0', '--no-udp', '--reply-from-console'], { expectLines: 1 });
    try {
      let printed = '';
      server.child.stdout.on('data', (d: Buffer) => (printed += d.toString('utf8')));
      const session = runTool('python3', [program('console_chat_client.py'), '127.0.0.1', String(server.port('echo', 'tcp'))], { input: '你好，服务端\nexit\n', timeoutMs: 10_000 });
      for (let i = 0; i < 400 && !printed.includes('响应数据 >>> '); i++) await sleep(20);
      expect(printed).toMatch(/^From \('127\.0\.0\.1', \d+\) : 你好，服务端\n响应数据 >>> $/);
      server.child.stdin.write('你好，客户端\n');
      const result = await session;
      expect(result.code).toBe(0);
      expect(result.stdout.toString('utf8')).toBe('客户端启动:\n发送数据 >>>服务端响应数据 >>> 你好，客户端\n发送数据 >>>');
    } finally {
      await server.stop();
    }
  });

  const servers: Array<[string, string, string[]]> = [
    ['单线程示例', 'console_server_001.py', ['第一句', '第二句']],
    ['并发示例 (ThreadingTCPServer; it closes after its first answer)', 'threading_console_server_001.py', ['第一句']],
  ];
  for (const [title, name, lines] of servers) {
    it(`${title}: \`wharf echo --framing raw\` prints what the person at the seed's server types`, async () => {
      const { server, port } = await startSeedServer('python3', name, 'tcp');
      const client = runWharf(['echo', '-p', String(port), '--framing', 'raw'], { input: lines.map((l) => `${l}\n`).join('') });
      for (const [i, line] of lines.entries()) {
        await server.waitFor(`接受数据 >>> ${line}\n响应数据 >>>`);
        server.type(`答${i}`);
      }
      const result = await client;
      expect(result.stdout).toBe(lines.map((_, i) => `答${i}\n`).join(''));
    });
  }
});
