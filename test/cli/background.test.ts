import dgram from 'node:dgram';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { EchoClient } from '../../src/services/echo/client.js';
import { WHARF_BIN, requireBuild, tempDataDir } from '../helpers/cli.js';
import { TmuxShell, waitFor } from '../helpers/tmux.js';
import { skipReason } from '../helpers/tools.js';

/**
 * `wharf serve &` in an interactive shell: the job must keep serving while the user types other
 * commands (it used to be stopped by SIGTTIN, or to die of EIO, reading the chat console), and
 * `fg` gives the console back.
 */
const noTmux = skipReason('tmux');

const shells: TmuxShell[] = [];
const pids: number[] = [];
afterEach(() => {
  for (const shell of shells.splice(0)) shell.close();
  for (const pid of pids.splice(0)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // Stopped as the test asked.
    }
  }
});

const SERVICES = ['echo', 'chat', '--set', 'echo.port=0', '--set', 'chat.port=0', '--set', 'chat.tcpPort=0'];

function quote(text: string): string {
  return `'${text.replaceAll("'", "'\\''")}'`;
}

function port(log: string, prefix: string): number | undefined {
  const line = log.split('\n').find((l) => l.startsWith(prefix));
  return line ? Number(line.slice(line.lastIndexOf(':') + 1).replace(/\/$/, '')) : undefined;
}

/** `ps` state of the process: T when stopped. */
function state(pid: number): string {
  try {
    return execFileSync('ps', ['-o', 'stat=', '-p', String(pid)], { encoding: 'utf8' }).trim();
  } catch {
    return 'gone';
  }
}

async function startInBackground(command: (data: string) => string): Promise<{ shell: TmuxShell; data: string; pid: number; echoPort: number; log: () => string }> {
  requireBuild();
  const data = tempDataDir();
  const shell = TmuxShell.start({ WHARF_LOG_LEVEL: 'info' });
  shells.push(shell);
  shell.type(command(data));
  const log = () => (existsSync(join(data, 'log')) ? readFileSync(join(data, 'log'), 'utf8') : '');
  const echoPort = await waitFor(() => port(log(), 'echo tcp://'), `the listening lines in ${data}/log`);
  // The server, by its unique data folder ($! may be a subshell's).
  const pid = Number(execFileSync('pgrep', ['-f', '--', `serve .*--data ${data}`], { encoding: 'utf8' }).trim());
  pids.push(pid);
  return { shell, data, pid, echoPort, log };
}

async function echoes(portNumber: number): Promise<string> {
  const client = await EchoClient.connect({ port: portNumber });
  try {
    return await client.send('still there?');
  } finally {
    client.close();
  }
}

describe.skipIf(noTmux !== undefined)(`wharf serve as a background job${noTmux ? ` (skipped: ${noTmux})` : ''}`, () => {
  for (const [name, command] of [
    ['node wharf serve > log 2>&1 &', (data: string) => `node ${quote(WHARF_BIN)} serve ${SERVICES.join(' ')} --data ${quote(data)} > ${quote(join(data, 'log'))} 2>&1 &`],
    ['cd dir && node wharf serve > log 2>&1 &', (data: string) => `cd ${quote(data)} && node ${quote(WHARF_BIN)} serve ${SERVICES.join(' ')} --data ${quote(data)} > log 2>&1 &`],
  ] as const) {
    it(`${name}: keeps serving while the user types, and is not stopped`, async () => {
      const { shell, pid, echoPort, log } = await startInBackground(command);
      // A line typed while another command runs sits in the terminal's input: a background
      // reader of the terminal would be stopped (SIGTTIN) or get EIO here.
      shell.type('sleep 1');
      shell.type('echo typed-while-sleeping');
      await waitFor(() => (shell.screen().includes('typed-while-sleeping\n') ? true : undefined), 'the shell to run the typed command', 10_000);
      await new Promise((resolve) => setTimeout(resolve, 500));
      expect(state(pid)).not.toMatch(/^T/);
      expect(await echoes(echoPort)).toBe('still there?');
      expect(log()).not.toMatch(/EIO|Error/);
      process.kill(pid, 'SIGTERM');
      await waitFor(() => (state(pid) === 'gone' ? true : undefined), 'the server to stop');
    }, 30_000);
  }

  it('fg gives the console back: a line typed then reaches the chat room, and quit stops the server', async () => {
    const { shell, pid, log } = await startInBackground((data) => `node ${quote(WHARF_BIN)} serve ${SERVICES.join(' ')} --data ${quote(data)} > ${quote(join(data, 'log'))} 2>&1 &`);
    const chatPort = await waitFor(() => port(log(), 'chat udp://'), 'the chat line');
    const member = dgram.createSocket('udp4');
    try {
      member.send('L watcher', chatPort, '127.0.0.1');
      const [ok] = (await once(member, 'message')) as [Buffer];
      expect(ok.toString()).toBe('OK');
      shell.type('fg');
      // The console opens within a second of coming to the foreground; typed before, the line
      // waits in the terminal.
      const heard = new Promise<string>((resolve) => member.on('message', (m: Buffer) => resolve(m.toString())));
      shell.type('hello from the console');
      expect(await heard).toBe('管理员消息 : hello from the console');
      expect(state(pid)).not.toMatch(/^T/);
      shell.type('quit');
      await waitFor(() => (state(pid) === 'gone' ? true : undefined), 'the server to stop on quit');
      expect(log()).toContain('stopping (quit)');
    } finally {
      member.close();
    }
  }, 30_000);
});
