import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EchoClient, echoOverUdp } from '../../src/services/echo/client.js';
import { WHARF_BIN, everyPortZero, requireBuild, runWharf, startWharf, tempDataDir, type RunningWharf } from '../helpers/cli.js';

const running: RunningWharf[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop('SIGKILL')));
});

async function start(args: string[], expectLines: number, env?: NodeJS.ProcessEnv): Promise<RunningWharf> {
  const server = await startWharf(args, { expectLines, env });
  running.push(server);
  return server;
}

describe('wharf command', () => {
  it.each([[['--help']], [['serve', '--help']], [['echo', '--help']], [['echo', 'serve', '--help']], [['echo', 'send', '--help']]])('%j prints help and exits 0', async (args) => {
    const result = await runWharf(args);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/Usage: wharf/);
  });

  it('runs as an executable, the way npx wharf and an installed wharf start it', () => {
    // The bin is run directly (its #! line), so the build must leave it executable.
    requireBuild();
    const output = execFileSync(WHARF_BIN, ['--version'], { encoding: 'utf8' });
    expect(output.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('prints its version', async () => {
    const result = await runWharf(['--version']);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
  });

  it('exits 2 on an unknown flag, an unknown command and an unknown service', async () => {
    expect((await runWharf(['echo', 'serve', '--bogus'])).code).toBe(2);
    expect((await runWharf(['nonsense'])).code).toBe(2);
    const unknownService = await runWharf(['serve', 'gopher']);
    expect(unknownService.code).toBe(2);
    expect(unknownService.stderr).toMatch(/unknown service: gopher/);
  });

  it('names the bad key of an invalid config file, and exits 2', async () => {
    const dir = tempDataDir();
    const file = join(dir, 'wharf.json');
    writeFileSync(file, JSON.stringify({ services: { echo: { port: 'seven', colour: 'blue' } } }));
    const result = await runWharf(['serve', '--config', file, '--data', dir]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/services\.echo\.port/);
    expect(result.stderr).toMatch(/colour/);
  });

  it('names a bad WHARF_* variable too', async () => {
    const result = await runWharf(['echo', 'serve', '--port', '0'], { env: { WHARF_ECHO_FRAMING: 'zigzag' } });
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/services\.echo\.framing/);
  });

  it('exits 1 with a sentence when the port is taken', async () => {
    const first = await start(['echo', 'serve', '--port', '0', '--no-udp'], 1);
    const port = first.port('echo', 'tcp');
    const second = await runWharf(['echo', 'serve', '--port', String(port), '--no-udp']);
    expect(second.code).toBe(1);
    expect(second.stderr).toMatch(/^wharf: echo cannot listen on tcp 127\.0\.0\.1:\d+: the port is in use/);
  });

  it('`wharf echo serve` prints one line per address, answers, and stops cleanly on SIGTERM and SIGINT', async () => {
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      const server = await start(['echo', 'serve', '--port', '0', '--prefix', '收到！'], 2);
      expect(server.lines).toEqual([expect.stringMatching(/^echo tcp:\/\/127\.0\.0\.1:\d+$/), expect.stringMatching(/^echo udp:\/\/127\.0\.0\.1:\d+$/)]);
      const client = await EchoClient.connect({ port: server.port('echo', 'tcp') });
      expect(await client.send('你好')).toBe('收到！你好');
      client.close();
      expect(await echoOverUdp('udp', { port: server.port('echo', 'udp') })).toBe('收到！udp');
      expect(await server.stop(signal)).toBe(0);
      running.pop();
    }
  });

  it('`wharf serve` runs every service, reading WHARF_* variables and --set', async () => {
    // Every service on a free port (echo's from the environment): a default port may be taken, by
    // an `npm start` left running for one.
    const server = await start(['serve', ...everyPortZero(['echo.port']), '--set', 'echo.reply=123'], 2, { WHARF_ECHO_PORT: '0', WHARF_ECHO_FRAMING: 'line' });
    const client = await EchoClient.connect({ port: server.port('echo', 'tcp') });
    // "123" stays text: --set coerces by the setting's type, and reply is a string.
    expect(await client.send('anything')).toBe('123');
    client.close();
  });

  it('`wharf echo send` prints the answer over TCP and UDP', async () => {
    const server = await start(['echo', 'serve', '--port', '0', '--reply', 'Thanks'], 2);
    const tcp = await runWharf(['echo', 'send', '--port', String(server.port('echo', 'tcp')), 'hello', 'world']);
    expect(tcp).toMatchObject({ code: 0, stdout: 'Thanks\n' });
    const udp = await runWharf(['echo', 'send', '--udp', '--port', String(server.port('echo', 'udp')), 'hello']);
    expect(udp).toMatchObject({ code: 0, stdout: 'Thanks\n' });
  });

  it('`wharf echo` reads lines from stdin, prints each answer, and an empty line quits', async () => {
    const server = await start(['echo', 'serve', '--port', '0'], 2);
    const result = await runWharf(['echo', '--port', String(server.port('echo', 'tcp'))], { input: 'one\n二\n\nnever sent\n' });
    expect(result).toMatchObject({ code: 0, stdout: 'one\n二\n' });
  });

  it('a client with no server says so and exits 1', async () => {
    const result = await runWharf(['echo', 'send', '--port', '1', 'x']);
    expect(result.code).toBe(1);
    expect(result.stderr).toMatch(/nothing is listening/);
  });

  it('--workers 2 serves from two processes and restarts a worker that dies', async () => {
    const server = await start(['echo', 'serve', '--port', '0', '--no-udp', '--workers', '2', '--prefix', 'w:'], 1);
    const port = server.port('echo', 'tcp');
    const client = await EchoClient.connect({ port });
    expect(await client.send('a')).toBe('w:a');
    client.close();
    // Find the workers (children of the primary) and kill one.
    const { execFileSync } = await import('node:child_process');
    const children = () => execFileSync('pgrep', ['-P', String(server.child.pid)]).toString().trim().split('\n').filter(Boolean).map(Number);
    const before = children();
    expect(before).toHaveLength(2);
    process.kill(before[0]!, 'SIGKILL');
    const deadline = Date.now() + 10_000;
    let after = children();
    while ((after.length < 2 || after.includes(before[0]!)) && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 200));
      after = children();
    }
    expect(after).toHaveLength(2);
    expect(after).not.toContain(before[0]);
    for (let i = 0; i < 4; i++) {
      const c = await EchoClient.connect({ port });
      expect(await c.send(`b${i}`)).toBe(`w:b${i}`);
      c.close();
    }
    expect(await server.stop('SIGTERM')).toBe(0);
    running.pop();
  }, 30_000);
});
