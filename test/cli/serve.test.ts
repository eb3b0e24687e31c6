import dgram from 'node:dgram';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { EchoClient } from '../../src/services/echo/client.js';
import { TftpClient } from '../../src/services/tftp/client.js';
import { runWharf, startWharf, tempDataDir, type RunningWharf } from '../helpers/cli.js';

const running: RunningWharf[] = [];
afterEach(async () => {
  await Promise.all(running.splice(0).map((r) => r.stop('SIGKILL')));
});

async function start(args: string[], expectLines: number, env?: NodeJS.ProcessEnv): Promise<RunningWharf> {
  const server = await startWharf(args, { expectLines, env });
  running.push(server);
  return server;
}

async function echoOnce(port: number, text: string): Promise<string> {
  const client = await EchoClient.connect({ port });
  try {
    return await client.send(text);
  } finally {
    client.close();
  }
}

async function stopped(server: RunningWharf, signal: NodeJS.Signals = 'SIGINT'): Promise<number | null> {
  const code = await server.stop(signal);
  running.splice(running.indexOf(server), 1);
  return code;
}

/** `HH:MM:SS LEVEL service: message`: the agreed shape of a log line a person reads. */
const PRETTY_LINE = /^\d\d:\d\d:\d\d (TRACE|DEBUG|INFO|WARN|ERROR|FATAL) [a-z0-9-]+: \S.*$/;

describe('the server log', () => {
  it('for a person: one line per event, and one line of counters at shutdown', async () => {
    const server = await start(['echo', 'serve', '--port', '0', '--no-udp'], 1, { WHARF_LOG_FORMAT: 'pretty', WHARF_LOG_LEVEL: 'info' });
    expect(await echoOnce(server.port('echo', 'tcp'), 'hello')).toBe('hello');
    expect(await stopped(server)).toBe(130); // Ctrl-C: stopped gracefully, and said with 130
    const lines = server.stderr().trimEnd().split('\n');
    for (const line of lines) expect(line).toMatch(PRETTY_LINE);
    expect(lines).toContainEqual(expect.stringMatching(/ INFO wharf: ready: echo$/));
    expect(lines).toContainEqual(expect.stringMatching(/ INFO wharf: counters: echo 1 connection, 6 B in, 6 B out$/));
    // Start, stop and the summary: not a screenful.
    expect(lines.length).toBeLessThanOrEqual(6);
  });

  it('for a program (not a terminal): JSON lines, with the counters as numbers', async () => {
    const server = await start(['echo', 'serve', '--port', '0', '--no-udp'], 1, { WHARF_LOG_LEVEL: 'info' });
    await echoOnce(server.port('echo', 'tcp'), 'hello');
    expect(await stopped(server)).toBe(130); // Ctrl-C: stopped gracefully, and said with 130
    const records = server.stderr().trimEnd().split('\n').map((line) => JSON.parse(line) as { msg: string; metrics?: unknown });
    expect(records.find((r) => r.msg.startsWith('counters'))?.metrics).toEqual([expect.objectContaining({ service: 'echo', bytesIn: 6, bytesOut: 6, connectionsTotal: 1 })]);
  });

  it('echo --model fork counts the bytes its connection processes echo', async () => {
    const server = await start(['echo', 'serve', '--port', '0', '--no-udp', '--set', 'echo.model=fork'], 1, { WHARF_LOG_LEVEL: 'info' });
    expect(await echoOnce(server.port('echo', 'tcp'), 'forked')).toBe('forked');
    // The child reports as it ends, just after the client closes.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await stopped(server)).toBe(130); // Ctrl-C: stopped gracefully, and said with 130
    const records = server.stderr().trimEnd().split('\n').map((line) => JSON.parse(line) as { msg: string; metrics?: unknown });
    expect(records.find((r) => r.msg.startsWith('counters'))?.metrics).toEqual([expect.objectContaining({ service: 'echo', bytesIn: 7, bytesOut: 7, connectionsTotal: 1 })]);
  });
});

describe('the TFTP log', () => {
  it('one access-log line per transfer: complete, refused', async () => {
    const data = tempDataDir();
    const server = await start(['tftp', 'serve', '--port', '0', '--data', data], 1, { WHARF_LOG_FORMAT: 'pretty', WHARF_LOG_LEVEL: 'info' });
    await writeFile(join(data, 'files', 'tftp', 'boot.img'), 'x'.repeat(1500));
    const client = await TftpClient.connect({ host: '127.0.0.1', port: server.port('tftp', 'udp') });
    await client.get('boot.img', new PassThrough().resume());
    await client.get('missing\nfile', new PassThrough().resume()).catch(() => undefined);
    expect(await stopped(server)).toBe(130); // Ctrl-C: stopped gracefully, and said with 130
    const lines = server.stderr().trimEnd().split('\n');
    expect(lines).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d INFO tftp: 127\.0\.0\.1:\d+ RRQ "boot\.img" complete: 1\.5 KiB in \d+ ms$/));
    // The name a peer chose is quoted, its newline escaped: it cannot forge a line of its own.
    expect(lines).toContainEqual(expect.stringMatching(/^\d\d:\d\d:\d\d INFO tftp: 127\.0\.0\.1:\d+ RRQ "missing\\nfile" refused: .+$/));
    for (const line of lines) expect(line).toMatch(PRETTY_LINE);
  });
});

describe('signals', () => {
  it('SIGHUP (a closed terminal) does not stop the server: it logs one line and keeps serving', async () => {
    const server = await start(['echo', 'serve', '--port', '0', '--no-udp'], 1, { WHARF_LOG_FORMAT: 'pretty', WHARF_LOG_LEVEL: 'info' });
    server.child.kill('SIGHUP');
    const deadline = Date.now() + 10_000;
    while (!server.stderr().includes('SIGHUP') && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.stderr()).toMatch(/^\d\d:\d\d:\d\d WARN wharf: SIGHUP ignored: .+$/m);
    expect(await echoOnce(server.port('echo', 'tcp'), 'after hup')).toBe('after hup');
    expect(await stopped(server, 'SIGTERM')).toBe(0);
  });
});

describe('a port that is taken', () => {
  it('TCP: one sentence naming the service and the flag, exit 1, no stack', async () => {
    const first = await start(['echo', 'serve', '--port', '0', '--no-udp'], 1);
    const port = first.port('echo', 'tcp');
    const second = await runWharf(['serve', 'echo', '--set', `echo.port=${port}`, '--set', 'echo.udp=false'], { env: { WHARF_LOG_LEVEL: 'info', WHARF_LOG_FORMAT: 'pretty' } });
    expect(second.code).toBe(1);
    expect(second.stderr).toBe(`wharf: echo cannot listen on tcp 127.0.0.1:${port}: the port is in use (by another wharf, or another server); choose another with --set echo.port=PORT\n`);
  });

  it('UDP: the same sentence, for another service', async () => {
    const taken = dgram.createSocket('udp4');
    taken.bind(0, '127.0.0.1');
    await once(taken, 'listening');
    const { port } = taken.address();
    try {
      const result = await runWharf(['tftp', 'serve', '--port', String(port)], { env: { WHARF_LOG_LEVEL: 'info', WHARF_LOG_FORMAT: 'pretty' } });
      expect(result.code).toBe(1);
      expect(result.stderr).toBe(`wharf: tftp cannot listen on udp 127.0.0.1:${port}: the port is in use (by another wharf, or another server); choose another with --set tftp.port=PORT\n`);
    } finally {
      taken.close();
    }
  });
});

describe('listening lines', () => {
  it('web prints a URL a person can open', async () => {
    const server = await start(['web', 'serve', '--port', '0'], 1);
    expect(server.lines).toEqual([expect.stringMatching(/^web http:\/\/127\.0\.0\.1:\d+\/$/)]);
    expect(server.port('web', 'tcp')).toBeGreaterThan(0);
  });
});
