import { resolve } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startWharf, type RunningWharf } from '../helpers/cli.js';
import { waitFor } from '../helpers/net.js';
import { runTool, skipReason } from '../helpers/tools.js';

/**
 * The seeds' own TCP clients (Python 3, see seed-programs/) against `wharf echo serve` run as
 * each seed's server: the clients that wait for a greeting, the one-message-per-connection
 * client, and the client whose answers the person at the server types.
 */

const programs = resolve(import.meta.dirname, 'seed-programs');
const noPython3 = skipReason('python3');
const skipNote = noPython3 ? ` (skipped: ${noPython3})` : '';
const running: RunningWharf[] = [];

afterEach(async () => {
  await Promise.all(running.splice(0).map((server) => server.stop()));
});

async function serveEcho(flags: string[]): Promise<{ server: RunningWharf; port: number }> {
  const server = await startWharf(['echo', 'serve', '--port', '0', '--no-udp', ...flags], { expectLines: 1, timeoutMs: 30_000 });
  running.push(server);
  return { server, port: server.port('echo', 'tcp') };
}

function client(name: string, port: number, input: string) {
  return runTool('python3', [resolve(programs, name), '127.0.0.1', String(port)], { input, timeoutMs: 10_000 });
}

describe("the seeds' echo clients against wharf", () => {
  it.skipIf(noPython3 !== undefined)(`seed 002's select client reads the hello... greeting, then response:-prefixed answers${skipNote}`, async () => {
    const { port } = await serveEcho(['--greeting', 'hello...', '--prefix', 'response:']);
    const result = await client('select_client.py', port, 'ping\n你好\n');
    // The client has no way out but the end of its input (EOFError).
    expect(result.stderr).toMatch(/EOFError/);
    expect(result.stdout.toString('utf8')).toBe('hello...\n>>>:response:ping\n>>>:response:你好\n>>>:');
  });

  it.skipIf(noPython3 !== undefined)(`seed 002's socketserver client reads 欢迎致电... then its echoes, printed by --print${skipNote}`, async () => {
    const { server, port } = await serveEcho(['--greeting', '欢迎致电... ', '--print']);
    const result = await client('socketserver_client.py', port, 'hello\nexit\n');
    expect(result.code).toBe(0);
    expect(result.stdout.toString('utf8')).toBe('欢迎致电... \n>>:hello\n>>:');
    await waitFor(() => server.lines.some((line) => /^From \('127\.0\.0\.1', \d+\) : hello$/.test(line)));
  });

  it.skipIf(noPython3 !== undefined)(`seed 000 §2's reconnecting client gets one Thanks per connection from --once${skipNote}`, async () => {
    const { port } = await serveEcho(['--once', '--reply', 'Thanks']);
    const result = await client('once_client.py', port, 'one\ntwo\n\n');
    expect(result.code).toBe(0);
    expect(result.stdout.toString('utf8')).toBe('>>from Server： Thanks\n>>from Server： Thanks\n>>');
  });

  it.skipIf(noPython3 !== undefined)(`seed 001's client gets the answer typed at the server (--reply-from-console, stdin piped)${skipNote}`, async () => {
    const { server, port } = await serveEcho(['--reply-from-console']);
    let printed = '';
    server.child.stdout.on('data', (d: Buffer) => (printed += d.toString('utf8')));
    const session = client('console_chat_client.py', port, '你好，服务端\nexit\n');
    await waitFor(() => printed.includes('响应数据 >>> '), 8_000, 'the prompt');
    expect(printed).toMatch(/^From \('127\.0\.0\.1', \d+\) : 你好，服务端\n响应数据 >>> $/);
    server.child.stdin.write('你好，客户端\n');
    const result = await session;
    expect(result.code).toBe(0);
    expect(result.stdout.toString('utf8')).toBe('客户端启动:\n发送数据 >>>服务端响应数据 >>> 你好，客户端\n发送数据 >>>');
  });
});
