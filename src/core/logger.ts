import { pino, type Logger, type LevelWithSilent } from 'pino';

export type { Logger };

export interface LoggerOptions {
  level?: LevelWithSilent;
  /** Human-readable output (pino-pretty). Defaults to true when stderr is a terminal. */
  pretty?: boolean;
  /** Where JSON lines go: a file descriptor (default 2, stderr). */
  destination?: number;
}

/**
 * One JSON line per event on stderr (stdout is reserved for what a command prints for the user,
 * such as the listening addresses). On a terminal the same events are pretty-printed.
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? ((process.env.WHARF_LOG_LEVEL as LevelWithSilent | undefined) ?? 'info');
  const destination = options.destination ?? 2;
  const pretty = options.pretty ?? (process.stderr.isTTY === true && destination === 2);
  if (pretty) {
    return pino({
      level,
      transport: { target: 'pino-pretty', options: { destination, colorize: true, translateTime: 'SYS:HH:MM:ss', ignore: 'pid,hostname' } },
    });
  }
  return pino({ level, base: { pid: process.pid } }, pino.destination({ fd: destination, sync: false }));
}

/** A logger that drops everything: the default for library users and tests. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
