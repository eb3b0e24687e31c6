import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createInterface, type Interface } from 'node:readline';
import { ReadStream } from 'node:tty';
import type { Logger } from './logger.js';

/**
 * Lines typed on the server's console (the chat's admin messages), read so that a server left
 * running as a background job (`wharf serve &`) keeps serving.
 *
 * A terminal is read only while this process is in its foreground process group. A background
 * process that reads its terminal is stopped by SIGTTIN (the job shows `Stopped (tty input)` and
 * every service freezes), or gets EIO when its process group is orphaned; both happened as soon
 * as the user typed the next command. So: check the foreground before reading, check again on
 * SIGCONT (`bg` after Ctrl-Z) and every second (bash's `fg` of a running job sends no signal), and
 * close quietly on a read error.
 *
 * SIGTTIN is deliberately not caught: with a handler installed, the kernel restarts the
 * background read after each signal and the process spins at 100% CPU inside `read` instead of
 * stopping.
 */
export interface ConsoleReader {
  close(): void;
}

export interface ConsoleOptions {
  /** Default process.stdin (fd 0). Another stream is read plainly, as long as it lasts. */
  input?: NodeJS.ReadableStream;
  logger?: Logger;
}

export function readConsoleLines(onLine: (line: string) => void, options: ConsoleOptions = {}): ConsoleReader {
  const input = options.input ?? process.stdin;
  if (input === process.stdin && process.stdin.isTTY === true) return new TerminalConsole(onLine, options.logger);
  const reader = createInterface({ input, terminal: false });
  reader.on('line', onLine);
  input.on('error', (error: NodeJS.ErrnoException) => {
    options.logger?.debug({ err: error }, 'console closed');
    reader.close();
  });
  return {
    close() {
      reader.close();
      // Reading stdin keeps the process alive: let it exit once the services have stopped.
      if (input === process.stdin) process.stdin.pause();
    },
  };
}

/**
 * Is this process in the foreground process group of its terminal? Linux: fields 5 (pgrp) and 8
 * (tpgid) of /proc/self/stat; elsewhere `ps`. Unknown counts as "no": not reading is harmless.
 */
export function inForeground(): boolean {
  try {
    const stat = readFileSync('/proc/self/stat', 'utf8');
    // The command name (field 2) may contain spaces and parentheses: count from its end.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[2] === fields[5];
  } catch {
    try {
      const [tpgid, pgid] = execFileSync('ps', ['-o', 'tpgid=,pgid=', '-p', String(process.pid)], { encoding: 'utf8', timeout: 2_000 }).trim().split(/\s+/);
      return tpgid !== undefined && tpgid === pgid;
    } catch {
      return false;
    }
  }
}

const FOREGROUND_CHECK_MS = 1_000;

class TerminalConsole implements ConsoleReader {
  readonly #onLine: (line: string) => void;
  readonly #logger: Logger | undefined;
  #stream: ReadStream | undefined;
  #reader: Interface | undefined;
  #closed = false;
  readonly #onContinue = () => this.#follow();
  readonly #timer: NodeJS.Timeout;

  constructor(onLine: (line: string) => void, logger: Logger | undefined) {
    this.#onLine = onLine;
    this.#logger = logger;
    process.on('SIGCONT', this.#onContinue);
    // One read of /proc/self/stat a second: the price of noticing `fg`.
    this.#timer = setInterval(this.#onContinue, FOREGROUND_CHECK_MS).unref();
    this.#follow();
  }

  close(): void {
    this.#closed = true;
    process.off('SIGCONT', this.#onContinue);
    clearInterval(this.#timer);
    this.#detach();
  }

  /** Read while in the foreground, not while in the background. */
  #follow(): void {
    if (this.#closed) return;
    const foreground = inForeground();
    if (foreground && !this.#reader) this.#attach();
    else if (!foreground && this.#reader) this.#detach();
  }

  #attach(): void {
    // A stream of our own on fd 0, not process.stdin: after a read error process.stdin is
    // destroyed for good, and `fg` must be able to open the console again.
    const stream = new ReadStream(0);
    stream.on('error', (error: NodeJS.ErrnoException) => {
      this.#logger?.debug({ err: error }, 'console read failed; closed until the next fg');
      this.#detach();
    });
    const reader = createInterface({ input: stream, terminal: false });
    reader.on('line', this.#onLine);
    // Ctrl-D: the console is done, the services are not.
    reader.on('close', () => {
      if (this.#reader === reader) this.#detach();
    });
    this.#stream = stream;
    this.#reader = reader;
  }

  #detach(): void {
    const reader = this.#reader;
    const stream = this.#stream;
    this.#reader = undefined;
    this.#stream = undefined;
    reader?.close();
    stream?.destroy();
  }
}
