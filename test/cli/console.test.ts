import { spawn, spawnSync } from 'node:child_process';
import dgram from 'node:dgram';
import { once } from 'node:events';
import { existsSync, statSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EchoClient } from '../../src/services/echo/client.js';
import { WHARF_BIN, runWharf, startWharf, tempDataDir, type RunningWharf } from '../helpers/cli.js';

/**
 * The server console (S13: a server that stops on a typed line): `quit`, `status`, `help` and the
 * chat's `say`, typed on standard input or sent by `wharf status` and `wharf stop` through the
 * control socket in the data folder.
 */
const servers: RunningWharf[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.stop('SIGKILL');
});

const ECHO_AND_CHAT = ['serve', 'echo', 'chat', '--set', 'echo.port=0', '--set', 'chat.port=0', '--set', 'chat.tcpPort=0'];

async function serveIn(data: string, args = ECHO_AND_CHAT, expectLines = 4): Promise<RunningWharf> {
  const server = await startWharf([...args, '--data', data], { expectLines, cwd: data });
  servers.push(server);
  return server;
}

function exitCode(server: RunningWharf): Promise<number | null> {
  if (server.child.exitCode !== null) return Promise.resolve(server.child.exitCode);
  return once(server.child, 'exit').then(([code]) => code as number | null);
}

describe('the console on standard input (--console)', () => {
  it('answers help and status, sends a plain line to the chat, and stops on quit', async () => {
    const data = tempDataDir();
    const server = await serveIn(data, [...ECHO_AND_CHAT, '--console']);
    const member = dgram.createSocket('udp4');
    try {
      member.send('L alice', server.port('chat', 'udp'), '127.0.0.1');
      expect(String((await once(member, 'message'))[0])).toBe('OK');
      const heard = new Promise<string>((resolve) => member.on('message', (m: Buffer) => resolve(m.toString())));
      server.child.stdin.write('hello everyone\n');
      expect(await heard).toBe('管理员消息 : hello everyone');
    } finally {
      member.close();
    }
    let stdout = '';
    server.child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    server.child.stdin.write('help\nstatus\nquit\n');
    expect(await exitCode(server)).toBe(0);
    expect(stdout).toContain('say TEXT');
    expect(stdout).toMatch(/^chat +udp:\/\/127\.0\.0\.1:\d+ +tcp:\/\/127\.0\.0\.1:\d+$/m);
    expect(stdout).toContain('1 member: alice');
    expect(stdout).toContain('stopping: connections get 5 s to finish');
    expect(existsSync(join(data, 'wharf.sock'))).toBe(false);
  }, 20_000);
});

describe('wharf status and wharf stop, from another terminal', () => {
  it('status lists services, addresses, connections and members; stop waits for the exit', async () => {
    const data = tempDataDir();
    const server = await serveIn(data);
    expect(statSync(join(data, 'wharf.sock')).mode & 0o777).toBe(0o600);
    const echo = await EchoClient.connect({ port: server.port('echo', 'tcp') });
    const member = dgram.createSocket('udp4');
    try {
      expect(await echo.send('hi')).toBe('hi');
      member.send('L 小明', server.port('chat', 'udp'), '127.0.0.1');
      await once(member, 'message');
      const text = await runWharf(['status', '--data', data], { cwd: data });
      expect(text.stderr).toBe('');
      expect(text.code).toBe(0);
      expect(text.stdout).toContain(`data folder ${data}`);
      expect(text.stdout).toContain(`echo  tcp://127.0.0.1:${server.port('echo', 'tcp')}`);
      expect(text.stdout).toContain('1 member: 小明');
      const json = await runWharf(['status', '--json'], { cwd: data, env: { WHARF_DATA: data } });
      const status = JSON.parse(json.stdout) as { pid: number; services: Array<{ name: string; connectionsOpen: number; members?: { count: number; names: string[] } }> };
      expect(status.pid).toBe(server.child.pid);
      expect(status.services.find((s) => s.name === 'echo')?.connectionsOpen).toBe(1);
      expect(status.services.find((s) => s.name === 'chat')?.members).toEqual({ count: 1, names: ['小明'] });
    } finally {
      echo.close();
      member.close();
    }
    const stopped = await runWharf(['stop', '--data', data], { cwd: data });
    expect(stopped.code).toBe(0);
    expect(stopped.stderr).toContain('stopped');
    // `wharf stop` returned once the server had exited.
    expect(server.child.exitCode ?? (await exitCode(server))).toBe(0);
    expect(existsSync(join(data, 'wharf.sock'))).toBe(false);
  }, 20_000);

  it('with no server on the data folder, status and stop say so in one sentence and exit 1', async () => {
    const data = tempDataDir();
    for (const command of ['status', 'stop']) {
      const result = await runWharf([command, '--data', data], { cwd: data });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`wharf: no wharf server is running on the data folder ${data}\n`);
    }
  });

  it('with --workers 2, the primary answers: services, and connections summed over the workers', async () => {
    const data = tempDataDir();
    const server = await serveIn(data, ['serve', 'echo', '--workers', '2', '--set', 'echo.port=0'], 2);
    const echo = await EchoClient.connect({ port: server.port('echo', 'tcp') });
    try {
      expect(await echo.send('hi')).toBe('hi');
      const json = await runWharf(['status', '--json', '--data', data], { cwd: data });
      const status = JSON.parse(json.stdout) as { workers: number; services: Array<{ name: string; addresses: string[]; connectionsOpen: number }> };
      expect(status.workers).toBe(2);
      expect(status.services).toEqual([{ name: 'echo', addresses: [`tcp://127.0.0.1:${server.port('echo', 'tcp')}`, `udp://127.0.0.1:${server.port('echo', 'udp')}`], connectionsOpen: 1 }]);
    } finally {
      echo.close();
    }
    const stopped = await runWharf(['stop', '--data', data], { cwd: data });
    expect(stopped.code).toBe(0);
    expect(await exitCode(server)).toBe(0);
  }, 20_000);
});

describe('the control socket', () => {
  it('a second server on the same data folder is refused with one sentence', async () => {
    const data = tempDataDir();
    await serveIn(data);
    const second = await runWharf(['serve', 'echo', '--set', 'echo.port=0', '--data', data], { cwd: data });
    expect(second.code).toBe(1);
    expect(second.stdout).toBe('');
    expect(second.stderr).toBe(`wharf: another wharf server is running on the data folder ${data}: stop it first (\`wharf stop --data ${data}\`) or choose another --data\n`);
  }, 20_000);

  it('a socket file left by a crashed server is replaced', async () => {
    const data = tempDataDir();
    const path = join(data, 'wharf.sock');
    // A process that listens there and dies without cleaning up, as a crash would.
    spawnSync(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(path)}, () => process.kill(process.pid, 'SIGKILL'))`]);
    expect(statSync(path).isSocket()).toBe(true);
    await serveIn(data, ['serve', 'echo', '--set', 'echo.port=0'], 2);
    const status = await runWharf(['status', '--data', data], { cwd: data });
    expect(status.code).toBe(0);
    expect(status.stdout).toContain('echo  tcp://');
  }, 20_000);

  it('a file in the way that is not a socket is left alone and named', async () => {
    const data = tempDataDir();
    writeFileSync(join(data, 'wharf.sock'), 'mine');
    const result = await runWharf(['serve', 'echo', '--set', 'echo.port=0', '--data', data], { cwd: data });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`wharf: ${join(data, 'wharf.sock')} is in the way of the control socket and is not a socket: move it elsewhere\n`);
  }, 20_000);

  it('answers an overlong request, bad JSON and an unknown command with an error, and keeps serving', async () => {
    const data = tempDataDir();
    await serveIn(data, ['serve', 'echo', '--set', 'echo.port=0'], 2);
    const ask = (payload: string) =>
      new Promise<string>((resolve, reject) => {
        const socket = createConnection(join(data, 'wharf.sock'));
        let answer = '';
        socket.on('data', (chunk: Buffer) => (answer += chunk.toString()));
        socket.on('end', () => resolve(answer));
        socket.on('error', reject);
        socket.write(payload);
      });
    expect(JSON.parse(await ask('x'.repeat(20_000)))).toEqual({ ok: false, text: 'request longer than 16384 bytes' });
    expect(JSON.parse(await ask('status\n'))).toEqual({ ok: false, text: 'expected one JSON line: {"line":"status"}' });
    // Over the socket a line that names no command is an error, never a broadcast.
    expect(JSON.parse(await ask('{"line":"hello"}\n'))).toEqual({ ok: false, text: 'unknown command "hello"; commands: status, quit, help' });
    expect(JSON.parse(await ask('{"line":"help"}\n')).ok).toBe(true);
  }, 20_000);
});

it('wharf status loads neither the services, the store nor the host', async () => {
  // A loader hook that names every module of wharf's that is loaded.
  const hook = 'data:text/javascript,export async function resolve(s,c,n){const r=await n(s,c);if(r.url.includes("/dist/"))console.error("LOADED "+r.url);return r}';
  const data = tempDataDir();
  const child = spawn(process.execPath, ['--no-warnings', '--experimental-loader', hook, WHARF_BIN, 'status', '--data', data], { cwd: data });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  await once(child, 'exit');
  const loaded = stderr.split('\n').filter((line) => line.startsWith('LOADED '));
  expect(loaded.some((line) => line.endsWith('/cli/control-commands.js'))).toBe(true);
  expect(loaded.filter((line) => /\/(services|store)\/|\/cli\/serve\.js|\/core\/(host|cluster|logger)\.js/.test(line))).toEqual([]);
}, 10_000);
