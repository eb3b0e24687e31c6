import { spawn, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import { readdirSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Server processes for benchmarks: spawned in their own process group (so a cluster's workers go
 * with their primary), waited for until they answer, and always killed: on stop(), on normal
 * exit, on Ctrl-C / SIGTERM, and on an uncaught error.
 */

const live = new Set<ChildProcess>();
let exitHooksInstalled = false;

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // already gone
    }
  }
}

/** Kill every process this module started (synchronous: safe inside an 'exit' handler). */
export function killAll(): void {
  for (const child of live) killGroup(child, 'SIGKILL');
  live.clear();
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on('exit', killAll);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      process.stderr.write(`\nbench: ${signal}: stopping servers\n`);
      killAll();
      process.exit(130);
    });
  }
  process.on('uncaughtException', (error) => {
    process.stderr.write(`bench: ${error.stack ?? String(error)}\n`);
    killAll();
    process.exit(1);
  });
  process.on('unhandledRejection', (reason) => {
    process.stderr.write(`bench: ${reason instanceof Error ? (reason.stack ?? reason.message) : String(reason)}\n`);
    killAll();
    process.exit(1);
  });
}

export type Readiness =
  /** Accepts a TCP connection on this port. */
  | { tcp: number }
  /** Echoes a UDP datagram sent to this port. */
  | { udpEcho: number };

export interface ServerSpec {
  /** Short id used in tables and logs. */
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
  ready: Readiness;
  /** Wait until the process tree has this many processes (a cluster primary + workers). */
  processes?: number;
  /** Extra settle time after ready, e.g. for the second cluster worker to take connections. */
  settleMs?: number;
  timeoutMs?: number;
}

export class ServerProcess {
  #tail = '';
  #exited: Promise<number | null>;
  #exitCode: number | null | undefined;

  constructor(
    readonly spec: ServerSpec,
    readonly child: ChildProcess,
  ) {
    const keep = (chunk: Buffer) => {
      this.#tail = (this.#tail + chunk.toString()).slice(-4000);
    };
    child.stdout?.on('data', keep);
    child.stderr?.on('data', keep);
    this.#exited = new Promise((resolve) => {
      child.on('exit', (code) => {
        this.#exitCode = code;
        live.delete(child);
        resolve(code);
      });
    });
  }

  get name(): string {
    return this.spec.name;
  }

  get pid(): number {
    return this.child.pid ?? 0;
  }

  get running(): boolean {
    return this.#exitCode === undefined;
  }

  /** The last few KB the server printed (for error messages). */
  get output(): string {
    return this.#tail;
  }

  /** This server and all its descendants (cluster workers), for CPU accounting. */
  pids(): number[] {
    return processTree(this.pid);
  }

  /** SIGTERM to the whole group; SIGKILL after `graceMs`. */
  async stop(graceMs = 2_000): Promise<void> {
    if (!this.running) return;
    killGroup(this.child, 'SIGTERM');
    const timer = setTimeout(() => killGroup(this.child, 'SIGKILL'), graceMs);
    await this.#exited;
    clearTimeout(timer);
    // Workers that outlived their primary (they should not) go too.
    killGroup(this.child, 'SIGKILL');
  }

  exited(): Promise<number | null> {
    return this.#exited;
  }
}

/** Start a server and resolve once it answers; reject (and kill it) if it does not in time. */
export async function startServer(spec: ServerSpec): Promise<ServerProcess> {
  installExitHooks();
  const child = spawn(spec.command, spec.args, {
    cwd: spec.cwd,
    env: spec.env ?? process.env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true, // own process group: stop() reaches cluster workers too
  });
  live.add(child);
  const server = new ServerProcess(spec, child);
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  const died = server.exited().then((code) => {
    throw new Error(`${spec.name} exited with code ${code} before it was ready:\n${server.output}`);
  });
  const deadline = Date.now() + (spec.timeoutMs ?? 20_000);
  try {
    await Promise.race([waitReady(spec, server, deadline), spawnError, died]);
  } catch (error) {
    await server.stop(500);
    throw error;
  }
  died.catch(() => {}); // later exits are seen through `running`
  return server;
}

async function waitReady(spec: ServerSpec, server: ServerProcess, deadline: number): Promise<void> {
  const ready = spec.ready;
  while (server.running) {
    const ok = 'tcp' in ready ? await tcpAnswers(ready.tcp) : await udpEchoes(ready.udpEcho);
    if (ok) break;
    if (Date.now() > deadline) throw new Error(`${spec.name} did not answer in time:\n${server.output}`);
    await sleep(50);
  }
  while (server.running && spec.processes !== undefined && server.pids().length < spec.processes) {
    if (Date.now() > deadline) throw new Error(`${spec.name}: expected ${spec.processes} processes, saw ${server.pids().length}`);
    await sleep(50);
  }
  if (spec.settleMs) await sleep(spec.settleMs);
}

export function tcpAnswers(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
    socket.setTimeout(1_000, () => done(false));
  });
}

export function udpEchoes(port: number, host = '127.0.0.1', timeoutMs = 200): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    let settled = false;
    const done = (ok: boolean) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    socket.on('message', () => done(true));
    socket.on('error', () => done(false));
    socket.send('ready?', port, host);
  });
}

/** A port free for both TCP and UDP on 127.0.0.1 (the OS picks; we release it for the server). */
export async function freePort(host = '127.0.0.1'): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const server = net.createServer();
    const port = await new Promise<number>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve((server.address() as net.AddressInfo).port));
    });
    const udpFree = await new Promise<boolean>((resolve) => {
      const socket = dgram.createSocket('udp4');
      socket.once('error', () => resolve(false));
      socket.bind(port, host, () => socket.close(() => resolve(true)));
    });
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (udpFree) return port;
  }
  throw new Error('no free port found');
}

/**
 * CPU time (user + system, all threads) these processes have spent so far, in seconds, from
 * /proc/PID/stat; a process that has exited counts 0.
 */
export function cpuSeconds(pids: readonly number[]): number {
  let ticks = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    } catch {
      // exited
    }
  }
  return ticks / 100; // in clock ticks: USER_HZ is 100 on Linux
}

/** `pid` and all its descendants, from /proc. */
export function processTree(pid: number): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited while we looked
    }
  }
  const out: number[] = [];
  const walk = (p: number) => {
    out.push(p);
    for (const c of children.get(p) ?? []) walk(c);
  };
  walk(pid);
  return out;
}

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a command to completion, collecting its output (build steps, the load generator). */
export function run(command: string, args: string[], options: { cwd?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  installExitHooks();
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    live.add(child);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const timer =
      options.timeoutMs === undefined
        ? undefined
        : setTimeout(() => {
            stderr += `\n(killed after ${options.timeoutMs} ms)`;
            child.kill('SIGKILL');
          }, options.timeoutMs);
    child.once('error', (error) => {
      clearTimeout(timer);
      live.delete(child);
      reject(error);
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      live.delete(child);
      resolve({ code, stdout, stderr });
    });
  });
}
