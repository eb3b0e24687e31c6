import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { SERVICES } from '../../src/cli/services.js';
import { userCommand } from '../../src/cli/user-command.js';
import { EchoClient, echoOverUdp } from '../../src/services/echo/client.js';
import { TmuxShell, waitFor } from '../helpers/tmux.js';
import { skipReason } from '../helpers/tools.js';
import { WHARF_BIN, everyPortZero, isolatedEnv, requireBuild, runWharf, startWharf, tempDataDir, type RunningWharf } from '../helpers/cli.js';

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

  it('exits 2 on an unknown flag, an unknown command and an unknown service, each said after one `wharf:`', async () => {
    const results = await Promise.all([runWharf(['echo', 'serve', '--bogus']), runWharf(['nonsense']), runWharf(['serve', 'gopher']), runWharf(['echo', 'send'])]);
    for (const result of results) {
      expect(result.code).toBe(2);
      expect(result.stderr).toMatch(/^wharf: \S/);
      expect(result.stderr).not.toMatch(/error:/);
    }
    expect(results[2]!.stderr).toMatch(/^wharf: unknown service: gopher/);
  });

  it('`wharf --help` lists every service with the description its own module gives (loaded only when used)', async () => {
    const help = await runWharf(['--help']);
    for (const service of SERVICES) {
      const program = new Command('wharf');
      (await service.loadCli())(program, { setExitCode: () => undefined, serve: () => Promise.resolve() });
      for (const [name, summary] of Object.entries(service.commands)) {
        expect(program.commands.find((command) => command.name() === name)?.description()).toBe(summary);
        expect(help.stdout).toContain(`  ${name} `);
      }
      expect(program.commands.map((command) => command.name()).sort()).toEqual(Object.keys(service.commands).sort());
    }
    // `user` too: its line in `wharf --help` (wrapped there) is the description of the real command.
    expect(help.stdout.replace(/\s+/g, ' ')).toContain(` user ${userCommand().description()} `);
    const realHelp = await runWharf(['help', 'echo']);
    expect(realHelp.stdout).toMatch(/Usage: wharf echo \[options\] \[command\]/);
    expect(realHelp.stdout).toMatch(/send \[options\] <text\.\.\.>/);
  });

  it('a client command loads neither serve nor the store, the cluster or the other services', async () => {
    const dir = tempDataDir();
    // A module hook that names every module loaded, on stderr.
    writeFileSync(join(dir, 'hook.mjs'), "export async function resolve(s, c, next) { const r = await next(s, c); process.stderr.write('LOADED ' + r.url + '\\n'); return r; }\n");
    writeFileSync(join(dir, 'register.mjs'), "import { register } from 'node:module'; register('./hook.mjs', import.meta.url);\n");
    const result = spawnSync(process.execPath, ['--import', join(dir, 'register.mjs'), WHARF_BIN, 'echo', 'send', '--help'], { encoding: 'utf8', env: isolatedEnv(dir) });
    expect(result.stdout).toMatch(/Usage: wharf echo send/);
    const loaded = result.stderr.split('\n').filter((line) => line.startsWith('LOADED file:'));
    expect(loaded.some((line) => line.includes('/dist/services/echo/client.js'))).toBe(true);
    const unwanted = loaded.filter((line) => /\/dist\/(store|cli\/serve|cli\/config|core\/cluster|core\/host|services\/(?!echo\/))|node_modules\/(kysely|better-sqlite3|pino|zod)\//.test(line));
    expect(unwanted).toEqual([]);
  });

  it('a client interrupted by Ctrl-C exits 130, with no blank line in a pipe', async () => {
    const server = await start(['echo', 'serve', '--port', '0', '--no-udp'], 1);
    const child = spawn(process.execPath, [WHARF_BIN, 'echo', '--port', String(server.port('echo', 'tcp'))], { env: isolatedEnv(tempDataDir()) });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.stdin.write('ping\n');
    await expect.poll(() => stdout, { timeout: 10_000 }).toBe('ping\n');
    const code = new Promise<number | null>((resolve) => child.once('close', resolve));
    child.kill('SIGINT');
    expect(await code).toBe(130);
    // Not a terminal: no blank line in a log or a pipe.
    expect(stderr).toBe('');
  });

  it.skipIf(skipReason('tmux') !== undefined)('in a terminal, Ctrl-C at a client ends its line, so the shell prompt starts on its own', async () => {
    const server = await start(['echo', 'serve', '--port', '0', '--no-udp'], 1);
    const shell = TmuxShell.start({ WHARF_DATA: tempDataDir() });
    try {
      shell.type(`${process.execPath} ${WHARF_BIN} echo --port ${server.port('echo', 'tcp')}; echo "exit=$?"`);
      shell.type('ping');
      await waitFor(() => (shell.screen().includes('From server: ping') ? true : undefined), 'the echo of ping');
      shell.press('C-c');
      await waitFor(() => (/^exit=130$/m.test(shell.screen()) ? true : undefined), `exit=130 on a line of its own in:\n${shell.screen()}`);
    } finally {
      shell.close();
    }
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
      // Ctrl-C stops as gracefully as SIGTERM, and says so with 130, as every interrupted command.
      expect(await server.stop(signal)).toBe(signal === 'SIGINT' ? 130 : 0);
      running.pop();
    }
  });

  it('`wharf serve` runs every service, reading WHARF_* variables and --set', async () => {
    // Every service on a free port (echo's from the environment): a default port may be taken, by
    // an `npm start` left running for one.
    const server = await start(['serve', ...everyPortZero(['echo.port']), '--set', 'echo.reply=123'], 10, { WHARF_ECHO_PORT: '0', WHARF_ECHO_FRAMING: 'line' });
    const client = await EchoClient.connect({ port: server.port('echo', 'tcp') });
    // "123" stays text: --set coerces by the setting's type, and reply is a string.
    expect(await client.send('anything')).toBe('123');
    client.close();
    // Every service but exec, which runs commands and so only ever runs when named.
    const named = new Set(server.lines.filter((line) => /^[a-z]+ [a-z]+:\/\//.test(line)).map((line) => line.split(' ')[0]));
    expect([...named].sort()).toEqual(['chat', 'diary', 'dict', 'discovery', 'echo', 'ftp', 'tftp', 'web']);
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

/** Run wharf with its stdout on a pipe that `consume` reads as it likes. */
function piped(args: string[], consume: (stdout: NodeJS.ReadableStream) => Promise<Buffer>): Promise<{ code: number | null; output: Buffer; stderr: string }> {
  const child = spawn(process.execPath, [WHARF_BIN, ...args], { env: isolatedEnv(tempDataDir()) });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('close', resolve));
  child.stdin.end();
  return consume(child.stdout).then(async (output) => ({ code: await exited, output, stderr }));
}

/**
 * Read everything, but start only after the writer has filled the pipe and is waiting. (The
 * output must be larger than the pipe and the reader's buffer together, some 300 KB for node's
 * socket pairs: a writer that could put it all there and exit would prove nothing, and node
 * drops the unread output of a child that has exited.)
 */
async function slowly(stdout: NodeJS.ReadableStream): Promise<Buffer> {
  stdout.pause();
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  const chunks: Buffer[] = [];
  for await (const chunk of stdout) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe('wharf output into a pipe', () => {
  const ENTRIES = 3_000;
  async function diaryServer(): Promise<{ port: number; data: string }> {
    const data = tempDataDir();
    const log = join(data, 'daily.log');
    // The seed's asctime stamps, one second apart from Mon Nov 23 18:00:00 2026.
    const stamp = (i: number) => `Mon Nov 23 18:${String(Math.floor(i / 60) % 60).padStart(2, '0')}:${String(i % 60).padStart(2, '0')} 2026`;
    const lines = Array.from({ length: ENTRIES }, (_, i) => `[${stamp(i)}] entry ${i} ${'padding '.repeat(25)}\n`);
    writeFileSync(log, lines.join(''));
    expect((await runWharf(['diary', 'import', log, '--tz', 'UTC', '--data', data])).code).toBe(0);
    const server = await start(['diary', 'serve', '--port', '0', '--data', data], 1);
    return { port: server.port('diary', 'udp'), data };
  }

  it('writes all of `diary read` (text and --json) to a slow reader before exiting, far past the pipe\'s buffer', async () => {
    const { port, data } = await diaryServer();
    const toFile = join(data, 'read.txt');
    // The same command written to a file: the byte count the pipe must carry.
    execFileSync('sh', ['-c', `"${process.execPath}" "${WHARF_BIN}" diary read --port ${port} > "${toFile}"`]);
    const expected = execFileSync('wc', ['-c', toFile]).toString().trim().split(' ')[0];
    const text = await piped(['diary', 'read', '--port', String(port)], slowly);
    expect(text.code).toBe(0);
    expect(text.output.length).toBeGreaterThan(500_000);
    expect(String(text.output.length)).toBe(expected);
    const json = await piped(['diary', 'read', '--port', String(port), '--json'], slowly);
    expect(json.code).toBe(0);
    expect((JSON.parse(json.output.toString()) as unknown[]).length).toBe(ENTRIES);
  }, 60_000);

  it('ends quietly with 141 when the reader goes away (| head)', async () => {
    const { port, data } = await diaryServer();
    // A real shell pipe, as a user's `| head` (node's own child pipes are socket pairs).
    const status = execFileSync('bash', ['-c', `"${process.execPath}" "${WHARF_BIN}" diary read --port ${port} 2>"${data}/err" | head -c 100 >/dev/null; echo \${PIPESTATUS[0]}`]);
    expect(status.toString().trim()).toBe('141');
    expect(readFileSync(join(data, 'err'), 'utf8')).toBe('');
  }, 60_000);
});

describe('the data folder', () => {
  it('is the same from any folder ($XDG_DATA_HOME/wharf), said by the commands, and a read-only command creates nothing', async () => {
    const home = tempDataDir();
    const env = { WHARF_DATA: '', XDG_DATA_HOME: join(home, 'xdg') };
    const expected = join(home, 'xdg', 'wharf');

    const listed = await runWharf(['user', 'list'], { env, cwd: tempDataDir() });
    expect(listed.code).toBe(1);
    expect(listed.stderr).toBe(`wharf: there is no wharf database at ${join(expected, 'wharf.db')} (wharf serve or wharf user add create it; --data or WHARF_DATA choose another data folder)\n`);
    expect(existsSync(join(home, 'xdg'))).toBe(false);

    const added = await runWharf(['user', 'add', 'alice', '--password-stdin'], { env, cwd: tempDataDir(), input: 'pw\n' });
    expect(added.stdout).toBe(`added alice (user, quota 1 GiB) to the accounts in ${join(expected, 'wharf.db')}\n`);
    const elsewhere = tempDataDir();
    expect((await runWharf(['user', 'list'], { env, cwd: elsewhere })).stdout).toMatch(/^alice /m);
    expect(readdirSync(elsewhere)).toEqual([]);

    const server = await start(['echo', 'serve', '--port', '0', '--no-udp'], 1, { ...env, WHARF_LOG_LEVEL: 'info', WHARF_LOG_FORMAT: 'pretty' });
    // The log is its own pipe (stderr): the line may reach us just after the listening line.
    for (let tries = 0; tries < 50 && !server.stderr().includes('data folder'); tries++) await new Promise((r) => setTimeout(r, 100));
    expect(server.stderr()).toContain(` INFO wharf: data folder: ${expected}\n`);
  });
});
