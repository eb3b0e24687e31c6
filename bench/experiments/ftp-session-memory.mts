/**
 * Resident memory of an FTP server with 300 sessions logged in over loopback: wharf's
 * `wharf ftp serve` (a real process, dist/) and, where it is installed, pyftpdlib.
 *
 *   npm run build && node --import tsx bench/experiments/ftp-session-memory.mts [--sessions 300] [--wharf dist/cli/main.js]
 *
 * Prints the server's RSS (from /proc) idle, after the logins, and the cost per session. For wharf it
 * also asks the server for a heap summary (WHARF_HEAP_REPORT: see below) to tell the V8 heap from
 * the rest.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { sessions: { type: 'string', default: '300' }, wharf: { type: 'string', default: 'dist/cli/main.js' } } });
const SESSIONS = Number(values.sessions);
const WHARF = resolve(values.wharf as string);

function rssKiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1]);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function waitForPort(child: ChildProcess, pattern: RegExp): Promise<number> {
  return new Promise((resolvePort, reject) => {
    let text = '';
    const onData = (d: Buffer) => {
      text += d.toString();
      const match = pattern.exec(text);
      if (match) resolvePort(Number(match[1]));
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`server exited with ${code}: ${text}`)));
  });
}

/** Log one session in and keep it open; resolves once 230 arrived. */
function login(port: number, user: string, password: string): Promise<net.Socket> {
  return new Promise((resolveLogin, reject) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let text = '';
    let step = 0;
    socket.on('error', reject);
    socket.on('data', (d: Buffer) => {
      text += d.toString();
      if (step === 0 && /^220 /m.test(text)) {
        step = 1;
        socket.write(`USER ${user}\r\n`);
      } else if (step === 1 && /^331 /m.test(text)) {
        step = 2;
        socket.write(`PASS ${password}\r\n`);
      } else if (step === 2 && /^230 /m.test(text)) {
        step = 3;
        resolveLogin(socket);
      } else if (/^[45]\d\d /m.test(text)) reject(new Error(text));
    });
  });
}

async function measure(name: string, child: ChildProcess, port: number, user: string, password: string): Promise<void> {
  await sleep(1_000);
  const idle = rssKiB(child.pid as number);
  const sockets: net.Socket[] = [];
  // In waves of 20 (a client opening sessions, not a flood the accept queue would drop).
  for (let i = 0; i < SESSIONS; i += 20) sockets.push(...(await Promise.all(Array.from({ length: Math.min(20, SESSIONS - i) }, () => login(port, user, password)))));
  await sleep(2_000);
  const loaded = rssKiB(child.pid as number);
  console.log(`${name}: RSS idle ${(idle / 1024).toFixed(1)} MiB, with ${SESSIONS} sessions ${(loaded / 1024).toFixed(1)} MiB, ${(((loaded - idle) * 1024) / SESSIONS / 1024).toFixed(1)} KiB per session`);
  for (const socket of sockets) socket.destroy();
}

async function wharf(): Promise<void> {
  const data = mkdtempSync(join(tmpdir(), 'wharf-mem-'));
  const add = spawn(process.execPath, [WHARF, 'user', 'add', 'alice', '--data', data, '--password-stdin'], { stdio: ['pipe', 'ignore', 'inherit'] });
  add.stdin.end('secret\n');
  await new Promise((r) => add.once('exit', r));
  const child = spawn(process.execPath, [WHARF, 'ftp', 'serve', '--port', '0', '--passive-ports', '0', '--data', data, '--set', 'ftp.maxConnectionsPerIp=0'], {
    env: { ...process.env, WHARF_LOG_LEVEL: 'warn' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const port = await waitForPort(child, /ftp tcp:\/\/[^\s]+:(\d+)/);
  await measure(`wharf (${values.wharf})`, child, port, 'alice', 'secret');
  child.kill('SIGKILL');
}

async function pyftpdlib(): Promise<void> {
  const home = mkdtempSync(join(tmpdir(), 'pyftpd-mem-'));
  const script = join(home, 'server.py');
  writeFileSync(
    script,
    [
      'import sys',
      'from pyftpdlib.authorizers import DummyAuthorizer',
      'from pyftpdlib.handlers import FTPHandler',
      'from pyftpdlib.servers import FTPServer',
      'a = DummyAuthorizer()',
      `a.add_user("alice", "secret", ${JSON.stringify(home)}, perm="elradfmw")`,
      'FTPHandler.authorizer = a',
      'server = FTPServer(("127.0.0.1", 0), FTPHandler)',
      'server.max_cons = 1000',
      'print("port", server.socket.getsockname()[1], flush=True)',
      'server.serve_forever()',
    ].join('\n'),
  );
  const child = spawn('/usr/bin/python3', [script], { stdio: ['ignore', 'pipe', 'pipe'] });
  const port = await waitForPort(child, /port (\d+)/);
  await measure('pyftpdlib', child, port, 'alice', 'secret');
  child.kill('SIGKILL');
}

await wharf();
try {
  await pyftpdlib();
} catch (error) {
  console.log(`pyftpdlib: not measured (${(error as Error).message.split('\n')[0]})`);
}
