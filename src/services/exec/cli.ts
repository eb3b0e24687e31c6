import { readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { Option, type Command } from 'commander';
import { EXIT_INTERRUPTED, addHostOptions, port, positiveInt, readFirstLine, readHiddenLine, type CliContext } from '../../cli-kit/index.js';
import { UsageError } from '../../core/errors.js';
import { ExecClient } from './client.js';
import type { ExitStatus, HistoryRow } from './protocol.js';

interface ClientFlags {
  host: string;
  port: number;
  user?: string;
  passwordStdin?: boolean;
  tls?: boolean;
  ca?: string;
  list?: boolean;
  json?: boolean;
  timeout: number;
}

function addClientOptions(command: Command): Command {
  return command
    .option('-H, --host <host>', 'server address', '127.0.0.1')
    .addOption(new Option('-p, --port <port>', 'server port').argParser(port).default(9999))
    .option('-u, --user <name>', 'account to log in as (default $WHARF_USER)')
    .option('--password-stdin', 'read the password from the first line of standard input (else $WHARF_PASSWORD, else asked)')
    .option('--tls', 'connect over TLS')
    .option('--ca <file>', 'trust this certificate (a self-signed server), implies --tls')
    .option('--json', 'print JSON: the command list, the history, or the run\'s exit status (output still streams)')
    .addOption(new Option('--timeout <ms>', 'how long to wait for the server to answer the connection').argParser(positiveInt).default(10_000));
}

async function passwordFor(user: string, flags: ClientFlags): Promise<string> {
  if (process.env.WHARF_PASSWORD !== undefined) return process.env.WHARF_PASSWORD;
  if (flags.passwordStdin) return readFirstLine(process.stdin);
  if (!process.stdin.isTTY) throw new UsageError('no password: set WHARF_PASSWORD, use --password-stdin, or run in a terminal to be asked');
  return readHiddenLine(`Password for ${user}: `, { input: process.stdin, output: process.stderr });
}

async function logIn(flags: ClientFlags): Promise<ExecClient> {
  const user = flags.user ?? process.env.WHARF_USER;
  if (!user) throw new UsageError('who are you? pass --user NAME (or set WHARF_USER)');
  const password = await passwordFor(user, flags);
  const useTls = flags.tls === true || flags.ca !== undefined;
  const client = await ExecClient.connect({
    host: flags.host,
    port: flags.port,
    timeoutMs: flags.timeout,
    ...(useTls ? { tls: flags.ca !== undefined ? { ca: readFileSync(flags.ca) } : {} } : {}),
  });
  try {
    await client.login(user, password);
  } catch (error) {
    await client.close();
    throw error;
  }
  return client;
}

/** The shell's convention: the exit code, or 128 + the signal's number. */
export function exitCodeOf(status: ExitStatus): number {
  if (status.code !== null) return status.code;
  const number = status.signal !== null ? (constants.signals as Record<string, number>)[status.signal] : undefined;
  return 128 + (number ?? 1);
}

const REASONS: Record<string, string> = {
  timeout: 'killed at the wall-time limit',
  'output-limit': 'killed at the output limit (the output above is cut there)',
  cancelled: 'stopped on request',
  'server-stopping': 'killed: the server is stopping',
};

async function runRemote(name: string, args: string[], flags: ClientFlags, ctx: CliContext): Promise<void> {
  const client = await logIn(flags);
  // Ctrl-C stops the remote command (its whole process group), then the client exits 130.
  let interrupted = false;
  const onInterrupt = () => {
    interrupted = true;
    client.cancel();
  };
  process.on('SIGINT', onInterrupt);
  try {
    const status = await client.run(name, args, {
      stdout: (chunk) => process.stdout.write(chunk),
      stderr: (chunk) => process.stderr.write(chunk),
    });
    if (flags.json) process.stdout.write(`${JSON.stringify(status)}\n`);
    else if (status.reason !== undefined && status.reason !== 'cancelled') process.stderr.write(`wharf: ${name} ${REASONS[status.reason] ?? status.reason}\n`);
    ctx.setExitCode(interrupted ? EXIT_INTERRUPTED : exitCodeOf(status));
  } finally {
    process.off('SIGINT', onInterrupt);
    await client.close();
  }
}

function historyLine(row: HistoryRow): string {
  const end = row.code !== null ? `exit ${row.code}` : `signal ${row.signal ?? '?'}`;
  const args = row.args.length > 0 ? ` ${JSON.stringify(row.args)}` : '';
  return `${new Date(row.startedAt).toISOString()}  ${row.account ?? '(seed)'}  ${row.address}  ${row.command}${args}  ${end}${row.reason ? ` (${row.reason})` : ''}  ${row.durationMs} ms  ${row.bytesOut} B`;
}

/**
 * `wharf exec [NAME ARGS…]` runs a named command on a server; `wharf exec serve` runs the
 * service; `wharf exec history` shows the audit trail to administrators.
 */
export function registerExecCli(program: Command, ctx: CliContext): void {
  const exec = program
    .command('exec')
    .description('run a named command on a wharf server (no shell; per-account permissions); `wharf exec serve` runs the service, never started by a bare `wharf serve`')
    .argument('[name]', 'the command to run (see --list)')
    .argument('[args...]', 'its arguments, one per parameter')
    .option('-l, --list', 'list the commands this account may run');
  addClientOptions(exec).action(async (name: string | undefined, args: string[], flags: ClientFlags) => {
    if (flags.list || name === undefined) {
      const client = await logIn(flags);
      try {
        const commands = await client.list();
        if (flags.json) process.stdout.write(`${JSON.stringify(commands)}\n`);
        else for (const command of commands) process.stdout.write(`${command.usage}\t${command.description}\n`);
      } finally {
        await client.close();
      }
      return;
    }
    await runRemote(name, args, flags, ctx);
  });

  addClientOptions(exec.command('run').description('run NAME (for a command named like a verb: serve, history, run)').argument('<name>').argument('[args...]')).action(
    (name: string, args: string[], flags: ClientFlags) => runRemote(name, args, flags, ctx),
  );

  addClientOptions(exec.command('history').description('the audit trail: every run, newest first (administrators)'))
    .addOption(new Option('-n, --limit <n>', 'how many runs').argParser(positiveInt).default(50))
    .action(async (flags: ClientFlags & { limit: number }) => {
      const client = await logIn(flags);
      try {
        const rows = await client.history(flags.limit);
        if (flags.json) process.stdout.write(`${JSON.stringify(rows)}\n`);
        else for (const row of rows) process.stdout.write(`${historyLine(row)}\n`);
      } finally {
        await client.close();
      }
    });

  const serveCommand = exec
    .command('serve')
    .description('run the exec service (TCP, default port 9999); refuses to start without a list of commands')
    .option('-H, --host <host>', 'listen address (default 127.0.0.1; another address needs TLS or --insecure)')
    .addOption(new Option('-p, --port <port>', 'listen port (default 9999)').argParser(port))
    .option('--tls-cert <file>', 'TLS certificate (PEM)')
    .option('--tls-key <file>', 'TLS private key (PEM)')
    .option('--insecure', 'allow a non-loopback address without TLS (passwords in clear text)')
    .option('--seed-protocol', "also answer the seed's own client (seed 002 §3): no login, only commands marked seed")
    .option('--seed-from <address>', 'an address allowed to use the seed protocol besides loopback (repeatable; `any` for all)', (value: string, previous: string[]) => [...previous, value], [] as string[]);
  addHostOptions(serveCommand).action(async (flags: Record<string, unknown>, command: Command) => {
    const seedFrom = flags.seedFrom as string[];
    await ctx.serve(['exec'], command, {
      exec: {
        host: flags.host,
        port: flags.port,
        tlsCert: flags.tlsCert,
        tlsKey: flags.tlsKey,
        insecure: flags.insecure === true ? true : undefined,
        seedProtocol: flags.seedProtocol === true ? true : undefined,
        seedFrom: seedFrom.length > 0 ? ['loopback', ...seedFrom] : undefined,
      },
    });
  });
}
