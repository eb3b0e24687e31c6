/**
 * What the seed conformance suite shares: where the course's programs are kept, the
 * interpreters they need (skip reasons where one is missing; CI installs them all), and a way to
 * run a long-lived program (a seed server, a seed client typed into over time).
 */
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import dgram from 'node:dgram';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';
import { findPython2, hasTool, runTool, type ToolResult } from '../helpers/tools.js';

/** The course's programs, verbatim but for the server address (see each file's header). */
export const PROGRAMS = join(import.meta.dirname, 'programs');

export function program(name: string): string {
  return join(PROGRAMS, name);
}

/** Run a seed client to its end: `INTERPRETER PROGRAM 127.0.0.1 PORT`, `input` typed on stdin. */
export function runClient(interpreter: string, name: string, port: number, input = ''): Promise<ToolResult> {
  return runTool(interpreter, [program(name), '127.0.0.1', String(port)], { input, timeoutMs: 10_000 });
}

/** In CI a missing interpreter is a broken CI script (.ci/run), not a reason to skip. */
function missing(reason: string): string {
  if (process.env.CI === 'true') throw new Error(`${reason}, but CI must provide it (.ci/run)`);
  return reason;
}

/** Python 2.7 for the seeds written in it (003, 004). */
export const python2 = findPython2();
export const noPython2 = python2 ? undefined : missing('no Python 2.7 (set WHARF_PYTHON2)');

export const noPython3 = hasTool('python3') ? undefined : missing('python3 is not installed');

/** Debian's Python with python3-gevent (gevent for Python 2 comes only from PyPI). */
export const GEVENT_PYTHON = '/usr/bin/python3';
export function geventProblem(): string | undefined {
  try {
    execFileSync(GEVENT_PYTHON, ['-c', 'import gevent'], { stdio: 'ignore', timeout: 10_000 });
    return undefined;
  } catch {
    return missing('python3-gevent is not installed (apt-get install python3-gevent)');
  }
}

/** ` (skipped: REASON)` for a test's title, or nothing. */
export function skipped(...reasons: Array<string | undefined>): string {
  const reason = reasons.find((r) => r !== undefined);
  return reason ? ` (skipped: ${reason})` : '';
}

/** A long-running program whose output we watch and whose input we type over time. */
export class Program {
  output = '';
  readonly exited: Promise<number | null>;

  constructor(readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.on('data', (d: Buffer) => (this.output += d.toString('utf8')));
    child.stderr.on('data', (d: Buffer) => (this.output += d.toString('utf8')));
    child.stdin.on('error', () => {});
    this.exited = new Promise((done) => child.on('exit', (code) => done(code)));
  }

  /** In a process group of its own: seed programs fork (multiprocessing, ForkingTCPServer), and all must go. */
  static start(command: string, args: string[], options: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): Program {
    const program = new Program(spawn(command, args, { env: { ...process.env, ...options.env }, cwd: options.cwd, detached: true }));
    running.push(program);
    return program;
  }

  type(line: string): void {
    this.child.stdin.write(`${line}\n`);
  }

  async waitFor(text: string | RegExp, timeoutMs = 10_000): Promise<void> {
    const start = Date.now();
    const seen = () => (typeof text === 'string' ? this.output.includes(text) : text.test(this.output));
    while (!seen()) {
      if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${String(text)}; output so far: ${JSON.stringify(this.output)}`);
      if (this.child.exitCode !== null) throw new Error(`exited (${this.child.exitCode}) before ${String(text)}; output: ${JSON.stringify(this.output)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  kill(): void {
    const pid = this.child.pid;
    if (pid === undefined || this.child.exitCode !== null) return;
    try {
      process.kill(-pid, 'SIGKILL'); // the program and the processes it forked
    } catch {
      // already gone
    }
  }
}

const running: Program[] = [];

/** Kill every program started since the last call (each file's afterAll / afterEach). */
export function killPrograms(): void {
  for (const p of running.splice(0)) p.kill();
}

/** A port free on 127.0.0.1 a moment ago, for a seed server (they take their port from argv). */
export async function freePort(transport: 'tcp' | 'udp'): Promise<number> {
  if (transport === 'udp') {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((done) => socket.bind(0, '127.0.0.1', done));
    const { port } = socket.address();
    await new Promise<void>((done) => socket.close(done));
    return port;
  }
  const server = net.createServer();
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  const { port } = server.address() as net.AddressInfo;
  await new Promise<void>((done) => server.close(() => done()));
  return port;
}

/**
 * Is something listening on `port` (TCP) or bound to it (UDP)? Read from /proc/net, so that no
 * probe connection is spent on a seed server that serves one client and exits.
 */
function bound(port: number, transport: 'tcp' | 'udp'): boolean {
  const hex = port.toString(16).toUpperCase().padStart(4, '0');
  for (const file of [`/proc/net/${transport}`, `/proc/net/${transport}6`]) {
    let table = '';
    try {
      table = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of table.split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      // TCP: 0A is LISTEN; a bound UDP socket is 07.
      if (local?.endsWith(`:${hex}`) && state === (transport === 'tcp' ? '0A' : '07')) return true;
    }
  }
  return false;
}

/**
 * Start a seed server program (`python -u PROGRAM HOST PORT ...`, or the arguments `argv` gives)
 * on a free port and wait until it listens.
 */
export async function startSeedServer(
  interpreter: string,
  name: string,
  transport: 'tcp' | 'udp',
  options: { extraArgs?: string[]; argv?: (port: number) => string[]; cwd?: string } = {},
): Promise<{ server: Program; port: number }> {
  const port = await freePort(transport);
  const argv = options.argv?.(port) ?? ['127.0.0.1', String(port), ...(options.extraArgs ?? [])];
  const server = Program.start(interpreter, ['-u', program(name), ...argv], { cwd: options.cwd });
  const deadline = Date.now() + 15_000;
  while (!bound(port, transport)) {
    if (server.child.exitCode !== null) throw new Error(`${name} exited (${server.child.exitCode}): ${server.output}`);
    if (Date.now() > deadline) throw new Error(`${name} did not listen on ${transport} ${port}: ${server.output}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return { server, port };
}
