import { isatty } from 'node:tty';
import { writeSync } from 'node:fs';
import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

/** `pretty`: one short line per event for a person; `json`: one JSON object per line for a machine; `auto`: pretty on a terminal. */
export type LogFormat = 'auto' | 'pretty' | 'json';

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Default `auto` (or `WHARF_LOG_FORMAT`): `pretty` when the destination is a terminal, else `json`. */
  format?: LogFormat;
  /** Where lines go: a file descriptor (default 2, stderr). */
  destination?: number;
}

/**
 * One event per line on stderr (stdout is reserved for what a command prints for the user, such
 * as the listening addresses): JSON when a program reads it (a file, journald, a pipe), a short
 * `HH:MM:SS LEVEL service: message` line when a person does.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? ((process.env.WHARF_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info');
  const destination = options.destination ?? 2;
  const format = options.format ?? logFormatFromEnv() ?? 'auto';
  const asLines = format === 'pretty' || (format === 'auto' && isatty(destination));
  if (asLines) {
    const colour = isatty(destination) && process.env.NO_COLOR === undefined;
    const verbose = (pino.levels.values[level] ?? Infinity) <= (pino.levels.values.debug ?? 20);
    return pino({ level, base: undefined }, new LineStream(destination, { colour, verbose }));
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: destination, sync: false }));
}

function logFormatFromEnv(): LogFormat | undefined {
  const value = process.env.WHARF_LOG_FORMAT;
  return value === 'pretty' || value === 'json' || value === 'auto' ? value : undefined;
}

/** A logger that drops everything: the default for library users and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' };
const LEVEL_COLOURS: Record<number, string> = { 10: '90', 20: '36', 30: '32', 40: '33', 50: '31', 60: '35' };

/**
 * Characters that would move the cursor, change the terminal or forge a new line: a peer chooses
 * file names, user names and paths that end up in messages.
 */
// eslint-disable-next-line no-control-regex -- matching control characters is the point
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

function escapeForTerminal(text: string): string {
  return text.replace(UNSAFE, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

interface LineOptions {
  colour: boolean;
  /** At debug level the event's fields follow its message, and an error's stack its line. */
  verbose: boolean;
}

/** Turns one pino JSON record into `HH:MM:SS LEVEL service: message[: error]`. */
export function formatLogLine(record: Record<string, unknown>, options: LineOptions = { colour: false, verbose: false }): string {
  const time = new Date(typeof record.time === 'number' ? record.time : Date.now());
  const clock = [time.getHours(), time.getMinutes(), time.getSeconds()].map((n) => String(n).padStart(2, '0')).join(':');
  const levelNumber = typeof record.level === 'number' ? record.level : 30;
  const levelName = LEVEL_NAMES[levelNumber] ?? String(levelNumber);
  const level = options.colour ? `\u001b[${LEVEL_COLOURS[levelNumber] ?? '0'}m${levelName}\u001b[0m` : levelName;
  const service = typeof record.service === 'string' ? record.service : 'wharf';
  let message = typeof record.msg === 'string' && record.msg !== '' ? record.msg : fieldsOf(record);
  const err = record.err as { message?: unknown; stack?: unknown } | undefined;
  const errMessage = typeof err?.message === 'string' ? err.message : typeof record.err === 'string' ? record.err : undefined;
  if (errMessage && !message.includes(errMessage)) message = `${message}: ${errMessage}`;
  const fields = Object.entries(record).filter(([key]) => !RECORD_KEYS.has(key));
  if (options.verbose && fields.length > 0) message = `${message} ${JSON.stringify(Object.fromEntries(fields))}`;
  let line = `${clock} ${level} ${escapeForTerminal(service)}: ${escapeForTerminal(message)}\n`;
  if (options.verbose && typeof err?.stack === 'string') {
    line += `${err.stack.split('\n').slice(1).map((frame) => `    ${escapeForTerminal(frame.trim())}`).join('\n')}\n`;
  }
  return line;
}

const RECORD_KEYS = new Set(['level', 'time', 'msg', 'pid', 'hostname', 'service', 'err']);

/** An event logged without a message: its plain fields, so the line is never empty. */
function fieldsOf(record: Record<string, unknown>): string {
  return Object.entries(record)
    .filter(([key, value]) => !RECORD_KEYS.has(key) && (typeof value !== 'object' || value === null))
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(' ');
}

/** pino's destination for `pretty` output: formats each record and writes it, never throwing. */
class LineStream {
  readonly #fd: number;
  readonly #options: LineOptions;

  constructor(fd: number, options: LineOptions) {
    this.#fd = fd;
    this.#options = options;
  }

  write(chunk: string): void {
    let line: string;
    try {
      line = formatLogLine(JSON.parse(chunk) as Record<string, unknown>, this.#options);
    } catch {
      line = chunk;
    }
    try {
      writeSync(this.#fd, line);
    } catch {
      // The terminal is gone (EIO after it closed) or full (EAGAIN): a lost log line must not
      // take the server down with it.
    }
  }
}
