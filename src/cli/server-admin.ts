import { readConsoleLines, type ConsoleReader } from '../core/console.js';
import { ConsoleCommands, type ConsoleAnswer, type DataCommand } from '../core/console-commands.js';
import { openControlSocket, type ControlSocket } from '../core/control-socket.js';
import type { Logger } from '../core/logger.js';
import type { ConsoleCommand, ServiceStatusLine } from '../core/service.js';
import { WHARF_VERSION } from '../core/version.js';

/**
 * The host's side of the server console: `status`, `quit` and `help`, the services' own commands,
 * read from the terminal (or standard input with `--console`) and from the control socket that
 * `wharf status` and `wharf stop` use.
 */

/** One service in `wharf status`. */
export type { ServiceStatusLine };

/** What `wharf status --json` prints. */
export interface ServerStatus {
  version: string;
  pid: number;
  dataDir: string;
  startedAt: string;
  uptimeSeconds: number;
  workers: number;
  /** A graceful stop is under way. */
  stopping: boolean;
  /** How long a graceful stop lets connections finish. */
  shutdownDeadlineMs: number;
  services: ServiceStatusLine[];
}

export interface AdminOptions {
  dataDir: string;
  logger: Logger;
  workers: number;
  shutdownDeadlineMs: number;
  /** The services' commands (the chat's `say`), once they run. */
  commands(): readonly ConsoleCommand[];
  services(): Promise<ServiceStatusLine[]>;
  /** Begin the graceful stop (the same as SIGTERM). */
  stop(reason: string): void;
  isStopping(): boolean;
  /** Where the console's answers go (stdout). */
  print(text: string): void;
}

export interface ServerAdmin {
  /**
   * Read the console's commands from standard input: a terminal only while this process is its
   * foreground job, anything else (`--console` with a pipe) as long as it lasts.
   */
  readConsole(): void;
  close(): Promise<void>;
}

/**
 * Open the control socket, before any service starts, so that a second server on the same data
 * folder is refused at once with one sentence.
 */
export async function startAdmin(options: AdminOptions): Promise<ServerAdmin> {
  const startedAt = new Date();
  const status = async (): Promise<ServerStatus> => ({
    version: WHARF_VERSION,
    pid: process.pid,
    dataDir: options.dataDir,
    startedAt: startedAt.toISOString(),
    uptimeSeconds: Math.round((Date.now() - startedAt.getTime()) / 1000),
    workers: options.workers,
    stopping: options.isStopping(),
    shutdownDeadlineMs: options.shutdownDeadlineMs,
    services: await options.services(),
  });
  let table: ConsoleCommands;
  const hostCommands: DataCommand[] = [
    {
      name: 'status',
      usage: 'status',
      summary: 'services and addresses, open connections, transfers, chat members',
      async run() {
        const data = await status();
        return { text: formatStatus(data), data };
      },
    },
    {
      name: 'quit',
      usage: 'quit',
      summary: 'stop the server gracefully (as Ctrl-C or SIGTERM)',
      async run() {
        const data = { pid: process.pid, shutdownDeadlineMs: options.shutdownDeadlineMs };
        if (options.isStopping()) return { text: 'already stopping', data };
        // After the answer is on its way.
        setImmediate(() => options.stop('quit'));
        return { text: `stopping: connections get ${options.shutdownDeadlineMs / 1000} s to finish`, data };
      },
    },
    {
      name: 'help',
      usage: 'help',
      summary: 'this list',
      run: async () => ({ text: table.help() }),
    },
  ];
  // Built for each line: the services add theirs once they have started.
  const answer = (line: string, typed: boolean) => {
    table = new ConsoleCommands([...hostCommands, ...options.commands()]);
    return table.run(line, { typed });
  };

  const socket: ControlSocket | undefined = await openControlSocket({ dataDir: options.dataDir, logger: options.logger, answer: (line) => answer(line, false) });
  let reader: ConsoleReader | undefined;
  return {
    readConsole() {
      const onLine = (line: string) => {
        answer(line, true).then(
          (result) => printAnswer(result, options),
          (error: unknown) => options.logger.error({ err: error }, 'console command failed'),
        );
      };
      reader = readConsoleLines(onLine, { logger: options.logger });
      const toChat = options.commands().some((command) => command.takesOtherLines) ? '; a line that is no command goes to every chat member as 管理员消息' : '';
      options.logger.info(`console: type help for the commands${toChat}`);
    },
    async close() {
      reader?.close();
      await socket?.close();
    },
  };
}

function printAnswer(answer: ConsoleAnswer | undefined, options: AdminOptions): void {
  if (answer === undefined) return;
  if (!answer.ok) options.logger.warn(`console: ${answer.text}`);
  // A typed line for the chat is said, as on the seed's server: nothing to print.
  else if (!answer.otherLine) options.print(answer.text);
}

/** `wharf status` for a person. */
export function formatStatus(status: ServerStatus): string {
  const head = `wharf ${status.version}, pid ${status.pid}${status.workers > 1 ? ` (${status.workers} workers)` : ''}, up ${formatDuration(status.uptimeSeconds)}${status.stopping ? ', stopping' : ''}`;
  const lines = [head, `data folder ${status.dataDir}`];
  const width = Math.max(0, ...status.services.map((service) => service.name.length));
  for (const service of status.services) {
    lines.push(`${service.name.padEnd(width)}  ${service.addresses.join('  ')}`);
    const facts = [plural(service.connectionsOpen, 'connection') + ' open'];
    if (service.transfers !== undefined) facts.push(`${plural(service.transfers, 'transfer')} in progress`);
    if (service.members !== undefined) {
      const { count, names } = service.members;
      const more = count > names.length ? `, and ${count - names.length} more` : '';
      facts.push(`${plural(count, 'member')}${count > 0 ? `: ${names.join(', ')}${more}` : ''}`);
    }
    lines.push(`${' '.repeat(width)}  ${facts.join(', ')}`);
  }
  return lines.join('\n');
}

function plural(n: number, one: string): string {
  return `${n} ${one}${n === 1 ? '' : 's'}`;
}

function formatDuration(seconds: number): string {
  if (seconds < 60) return `${seconds} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${seconds % 60} s`;
  const hours = Math.floor(minutes / 60);
  return hours < 48 ? `${hours} h ${minutes % 60} min` : `${Math.floor(hours / 24)} days ${hours % 24} h`;
}
