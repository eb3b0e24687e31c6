import { join } from 'node:path';
import { compileC } from './c-build.js';
import { benchDir } from './paths.js';
import { run } from './processes.js';

/** One load shape for bench/loadgen/echo-load.c. */
export interface EchoLoad {
  mode: 'tcp' | 'stream' | 'udp';
  /** Connections (TCP) or sockets (UDP). */
  conns: number;
  /** Messages (or, in stream mode, 1 MiB blocks) each connection keeps in flight. */
  inflight: number;
  /** Message / datagram size in bytes (stream mode: ignored, 1 MiB blocks). */
  size: number;
  /** One send() per message instead of one per batch. */
  split?: boolean;
}

/** What echo-load prints (see the comment at the top of echo-load.c). */
export interface EchoLoadResult {
  mode: string;
  error?: string;
  seconds: number;
  messages: number;
  bytes: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
  /** The generator's own CPU (getrusage), as % of one core over the counted window. */
  clientCpuPercent: number;
  /** The server's CPU (utime+stime of its processes from /proc), % of one core. */
  serverCpuPercent: number;
  /** The user-space part of serverCpuPercent (JS, the interpreter; not the kernel's socket work). */
  serverUserCpuPercent: number;
  /** Everything else on the machine (other processes, interrupts), % of one core. */
  otherCpuPercent: number;
  clientReads: number;
  clientWrites: number;
  datagramsLost?: number;
  lossPercent?: number;
}

let binary: Promise<string> | undefined;

/** Compile (once per source version) and return the generator's path. */
export function echoLoadBinary(): Promise<string> {
  binary ??= compileC(join(benchDir, 'loadgen', 'echo-load.c'));
  return binary;
}

export async function runEchoLoad(
  port: number,
  load: EchoLoad,
  timing: { warmupSeconds: number; durationSeconds: number; serverPids: number[] },
): Promise<EchoLoadResult> {
  const args = [
    '--port', String(port),
    '--mode', load.mode,
    '--conns', String(load.conns),
    '--inflight', String(load.inflight),
    '--size', String(load.size),
    '--split', load.split ? '1' : '0',
    '--warmup', String(timing.warmupSeconds),
    '--duration', String(timing.durationSeconds),
    '--pids', timing.serverPids.join(','),
  ];
  const timeoutMs = (timing.warmupSeconds + timing.durationSeconds + 15) * 1000;
  const result = await run(await echoLoadBinary(), args, { timeoutMs });
  const line = result.stdout.trim().split('\n').pop() ?? '';
  try {
    return JSON.parse(line) as EchoLoadResult;
  } catch {
    return { mode: load.mode, error: `echo-load exited ${result.code}: ${result.stderr.trim() || line || '(no output)'}` } as EchoLoadResult;
  }
}
