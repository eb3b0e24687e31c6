import { spawn, type ChildProcess } from 'node:child_process';
import type { EndReason, ExitStatus } from './protocol.js';

export interface RunLimits {
  /** Wall time; the whole process group is killed past it. */
  timeoutMs: number;
  /** Bytes of stdout and stderr together; the group is killed past it and the output cut there. */
  maxOutputBytes: number;
}

export interface RunOptions extends RunLimits {
  argv: readonly string[];
  cwd: string;
  /** The whole environment the process gets: nothing of wharf's own leaks in. */
  env: Record<string, string>;
  uid?: number;
  gid?: number;
  onStdout(chunk: Buffer): void;
  onStderr(chunk: Buffer): void;
  onExit(status: ExitStatus): void;
}

export interface Run {
  readonly pid: number | undefined;
  /** Kill the whole process group now; the run then ends with this reason. */
  stop(reason: EndReason): void;
  /** Back-pressure from the reader: hold the process's output pipes while the peer catches up. */
  pause(): void;
  resume(): void;
}

/** Kill every process of the group; ESRCH (all gone already) is what we want, not an error. */
function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // The group is empty: nothing is left running.
  }
}

/**
 * Start one command with no shell, in a process group of its own (`detached`), so that a limit,
 * a vanished client or a stopping server kills the command and everything it started. The group
 * is also killed when the command exits by itself: a background child it left behind dies too.
 */
export function startRun(options: RunOptions): Run {
  const started = Date.now();
  let bytesOut = 0;
  let reason: EndReason | undefined;
  let finished = false;
  const [program = '', ...args] = options.argv;
  const child: ChildProcess = spawn(program, args, {
    cwd: options.cwd,
    env: options.env,
    detached: true,
    shell: false,
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(options.uid !== undefined ? { uid: options.uid } : {}),
    ...(options.gid !== undefined ? { gid: options.gid } : {}),
  });
  const stop = (why: EndReason) => {
    if (finished) return;
    reason ??= why;
    killGroup(child.pid);
  };
  const timer = setTimeout(() => stop('timeout'), options.timeoutMs);
  const take = (deliver: (chunk: Buffer) => void) => (chunk: Buffer) => {
    if (reason !== undefined) return;
    const room = options.maxOutputBytes - bytesOut;
    const kept = chunk.length > room ? chunk.subarray(0, room) : chunk;
    bytesOut += kept.length;
    if (kept.length > 0) deliver(kept);
    if (chunk.length > room) stop('output-limit');
  };
  child.stdout?.on('data', take(options.onStdout));
  child.stderr?.on('data', take(options.onStderr));
  child.on('exit', () => killGroup(child.pid));
  // 'close' comes after both pipes are drained: all the output was delivered before the status.
  const finish = (code: number | null, signal: string | null) => {
    if (finished) return;
    finished = true;
    clearTimeout(timer);
    killGroup(child.pid);
    options.onExit({ code, signal, ...(reason !== undefined ? { reason } : {}), durationMs: Date.now() - started, bytesOut });
  };
  child.on('close', (code, signal) => finish(code, signal));
  // spawn failed (ENOENT, EACCES, a bad cwd): 'close' may never come.
  child.on('error', () => finish(127, null));
  return {
    get pid() {
      return child.pid;
    },
    stop,
    pause() {
      child.stdout?.pause();
      child.stderr?.pause();
    },
    resume() {
      child.stdout?.resume();
      child.stderr?.resume();
    },
  };
}
