import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { addHostOptions, forgetInterrupt, port, positiveInt, type CliContext } from '../../cli-kit/index.js';
import { readFirstLine, readHiddenLine } from '../../cli-kit/prompt.js';
import { parseSize } from '../../core/config.js';
import { UsageError, WharfError } from '../../core/errors.js';
import { formatBytes } from '../../core/human-size.js';
import { FtpClient, FtpError } from './client.js';
import { getFile, putFile, type TransferFlags } from './cli-transfers.js';
import { FtpShell, SHELL_HELP, formatEntries, type ShellIo } from './shell.js';

interface ConnectionFlags {
  host: string;
  port: number;
  user?: string;
  tls?: boolean;
  insecure?: boolean;
  ca?: string;
  timeout: number;
  verbose?: boolean;
  progress?: boolean;
  passwordStdin?: boolean;
  limitRate?: number;
}

/** Where prompts, progress and messages go; stdout carries only what a command prints. */
export interface FtpCliIo extends ShellIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

function sizeArgument(text: string): number {
  try {
    const bytes = parseSize(text);
    if (bytes <= 0) throw new Error('a rate must be more than 0');
    return bytes;
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function processIo(): FtpCliIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env, signals: process, chdir: (dir) => process.chdir(dir), cwd: () => process.cwd() };
}

function addConnectionOptions(command: Command): Command {
  return command
    .option('-H, --host <host>', 'server address', '127.0.0.1')
    .addOption(new Option('-p, --port <port>', 'server port').argParser(port).default(2121))
    .option('-u, --user <name>', 'account name (env WHARF_USER; "anonymous" for anonymous access)')
    .option('--tls', 'explicit FTPS: AUTH TLS, and encrypted data connections (PROT P)')
    .option('--insecure', 'with --tls: accept any certificate (self-signed test servers)')
    .option('--ca <file>', 'with --tls: trust this CA certificate (PEM)')
    .option('--password-stdin', 'read the password from the first line of standard input')
    .addOption(new Option('--timeout <ms>', 'how long to wait for the server').argParser(positiveInt).default(30_000))
    .option('--no-progress', 'no progress bar, only a summary line')
    .addOption(new Option('--limit-rate <size>', 'at most this many bytes per second (e.g. 500K, 2M)').argParser(sizeArgument))
    .option('-v, --verbose', 'print the FTP conversation on stderr');
}

async function password(flags: ConnectionFlags, user: string, io: FtpCliIo): Promise<string> {
  if (io.env.WHARF_PASSWORD !== undefined) return io.env.WHARF_PASSWORD;
  if (user.toLowerCase() === 'anonymous' || user.toLowerCase() === 'ftp') return 'wharf@';
  if (flags.passwordStdin) return readFirstLine(io.stdin);
  if (!io.stdin.isTTY) throw new UsageError('no password: set WHARF_PASSWORD, use --password-stdin, or run in a terminal to be asked');
  return readHiddenLine(`Password for ${user}: `, { input: io.stdin, output: io.stderr });
}

function userOf(flags: ConnectionFlags, io: FtpCliIo): string {
  const user = flags.user ?? io.env.WHARF_USER;
  if (!user) throw new UsageError('who are you? pass --user NAME (or set WHARF_USER)');
  return user;
}

async function connect(flags: ConnectionFlags, io: FtpCliIo, login = true, givenSecret?: string): Promise<FtpClient> {
  const user = login ? userOf(flags, io) : undefined;
  const secret = user !== undefined ? (givenSecret ?? (await password(flags, user, io))) : undefined;
  const tlsOptions = flags.insecure ? { rejectUnauthorized: false } : flags.ca ? { ca: readFileSync(flags.ca) } : {};
  const client = await FtpClient.connect({
    host: flags.host,
    port: flags.port,
    secure: flags.tls ? 'explicit' : false,
    tlsOptions,
    timeoutMs: flags.timeout,
    ...(flags.verbose ? { debug: (line: string) => void io.stderr.write(`${line}\n`) } : {}),
  });
  if (user !== undefined && secret !== undefined) {
    try {
      await client.login(user, secret);
    } catch (error) {
      await client.close();
      if (error instanceof FtpError && error.reply.code === 530) throw new WharfError('ELOGIN', `login refused: ${error.reply.lines.join(' ')}`);
      throw error;
    }
  }
  return client;
}

interface TransferOptionFlags {
  resume?: boolean;
  force?: boolean;
}

/** One `get`/`put` on its own: Ctrl-C aborts the transfer (ABOR) and says what was kept, instead of killing wharf mid-write. */
async function interruptibleTransfer(flags: ConnectionFlags & TransferOptionFlags, io: FtpCliIo, work: (client: FtpClient, transfer: TransferFlags) => Promise<void>): Promise<void> {
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  io.signals.on('SIGINT', onInterrupt);
  try {
    await withClient(flags, io, (client) =>
      work(client, { resume: flags.resume === true, force: flags.force === true, progress: flags.progress !== false, limitRate: flags.limitRate, signal: controller.signal }),
    );
  } finally {
    io.signals.off('SIGINT', onInterrupt);
  }
}

async function withClient<T>(flags: ConnectionFlags, io: FtpCliIo, work: (client: FtpClient) => Promise<T>): Promise<T> {
  const client = await connect(flags, io);
  try {
    return await work(client);
  } finally {
    await client.quit();
  }
}

// ---------------------------------------------------------------------------------------------
// The shell

/** The password from the first piped line, and the lines after it as the shell's commands. */
async function shell(flags: ConnectionFlags, io: FtpCliIo): Promise<void> {
  const tty = io.stdin.isTTY === true;
  let session: FtpShell | undefined;
  const lines = createInterface({
    input: io.stdin,
    output: tty ? io.stdout : undefined,
    terminal: tty,
    ...(tty ? { completer: (line: string, callback: (error: null, result: [string[], string]) => void) => (session ? session.complete(line, callback) : callback(null, [[], line])) } : {}),
  });
  const input = lines[Symbol.asyncIterator]();
  let ended = false;
  const onInterrupt = () => {
    if (!session || session.interrupt(tty ? lines : undefined)) {
      ended = true;
      lines.close();
    } else {
      forgetInterrupt(); // a transfer was stopped and the shell goes on
    }
  };
  lines.on('SIGINT', onInterrupt);
  io.signals.on('SIGINT', onInterrupt);
  try {
    let secret: string | undefined;
    if (flags.passwordStdin && io.env.WHARF_PASSWORD === undefined) {
      const first = await input.next();
      if (first.done) throw new UsageError('--password-stdin: standard input is empty');
      secret = first.value;
    }
    const client = await connect(flags, io, true, secret);
    try {
      session = new FtpShell(client, io, { progress: flags.progress !== false, limitRate: flags.limitRate, tty });
      if (tty) {
        io.stdout.write(`\n====== wharf ftp ======\n${SHELL_HELP}=======================\n`);
        lines.setPrompt('ftp> ');
        lines.prompt();
      }
      for (let next = await input.next(); !next.done && !ended; next = await input.next()) {
        if (!(await session.run(next.value))) break;
        if (tty && !ended) lines.prompt();
      }
    } finally {
      await client.quit();
    }
  } finally {
    io.signals.off('SIGINT', onInterrupt);
    lines.close();
  }
  if (ended && !tty) throw new WharfError('EABORTED', 'interrupted');
  if (session && session.failures > 0) throw new WharfError('EFAILED', `${session.failures} command${session.failures === 1 ? '' : 's'} failed`);
}

/**
 * `wharf ftp`: the server (`serve`) and a client for any FTP server: list, get, put, rm, mkdir,
 * mv, register, quota, and an interactive shell with the seed client's verbs.
 */
export function registerFtpCli(program: Command, ctx: CliContext, io: FtpCliIo = processIo()): void {
  const ftp = program.command('ftp').description('FTP file server (RFC 959 + extensions, FTPS) and its client');

  registerFtpServe(ftp, ctx);

  addConnectionOptions(ftp.command('list').alias('ls').description('list a folder on the server').argument('[path]', 'folder (default: your home)'))
    .option('-l, --long', 'sizes and times too')
    .action(async (path: string | undefined, flags: ConnectionFlags & { long?: boolean }) => {
      await withClient(flags, io, async (client) => {
        io.stdout.write(formatEntries(await client.list(path ?? ''), flags.long === true));
      });
    });

  addConnectionOptions(
    ftp.command('get').description('download a file, with a progress bar').argument('<remote>', 'file on the server').argument('[local]', 'where to save it (default: its name here; - for stdout)'),
  )
    .option('-c, --resume', "continue the local file, once the server's HASH shows it is the start of the remote one")
    .option('--force', 'with --resume: continue even when the server cannot check (no HASH)')
    .action(async (remote: string, local: string | undefined, flags: ConnectionFlags & TransferOptionFlags) => {
      await interruptibleTransfer(flags, io, (client, transfer) => getFile(client, remote, local, transfer, io));
    });

  addConnectionOptions(ftp.command('put').description('upload a file, with a progress bar').argument('<local>', 'file to send').argument('[remote]', 'name on the server (default: the same name)'))
    .option('-c, --resume', 'send only what the server does not have yet, once its HASH shows those bytes are the start of the file')
    .option('--force', 'with --resume: continue even when the server cannot check (no HASH)')
    .action(async (local: string, remote: string | undefined, flags: ConnectionFlags & TransferOptionFlags) => {
      await interruptibleTransfer(flags, io, (client, transfer) => putFile(client, local, remote, transfer, io));
    });

  registerFileVerbs(ftp, io);
  registerAccountVerb(ftp, io);

  addConnectionOptions(ftp.command('shell').description('interactive session: list, stor FILE, retr FILE, exit (the seed client) and more')).action(async (flags: ConnectionFlags) => {
    await shell(flags, io);
  });
}

/** `wharf ftp serve`: its flags, mapped onto the ftp service's config. */
function registerFtpServe(ftp: Command, ctx: CliContext): void {
  const serveCommand = ftp
    .command('serve')
    .description('run the FTP server (default port 2121, passive ports 30000-30099)')
    .option('-H, --host <host>', 'listen address (default 127.0.0.1)')
    .addOption(new Option('-p, --port <port>', 'control port (default 2121)').argParser(port))
    .option('--root <dir>', 'files folder: users/<name>/ and public/ below it (default <data>/files)')
    .option('--passive-ports <min-max>', 'passive data port range, or 0 for any (default 30000-30099)')
    .option('--masquerade <ipv4>', 'address to announce in PASV replies (a server behind NAT)')
    .option('--anonymous', 'allow anonymous read-only access to <root>/public')
    .option('--tls-cert <file>', 'PEM certificate: enables AUTH TLS (explicit FTPS)')
    .option('--tls-key <file>', 'PEM private key for --tls-cert')
    .option('--require-tls', 'refuse unencrypted logins and data connections')
    .option('--seed-000', "also speak seed 000's file protocol (LIST/STOR/RETR/EXIT) on port 8880 (ftp.seed000Port)")
    .option('--seed-001', "also speak seed 001's header-framed transfers on port 8881 (ftp.seed001Port)")
    .option('--seed-002', "also speak seed 002's JSON protocol (register, login, put with resume) on port 8002 (ftp.seed002Port)")
    .option('--seed-account <name>', 'the account whose files --seed-000 and --seed-001 serve (they have no login)');
  addHostOptions(serveCommand).action(async (flags: Record<string, unknown>, command: Command) => {
    await ctx.serve(['ftp'], command, {
      ftp: {
        host: flags.host,
        port: flags.port,
        root: flags.root,
        passivePorts: flags.passivePorts,
        masqueradeAddress: flags.masquerade,
        anonymous: flags.anonymous === true ? true : undefined,
        tlsCert: flags.tlsCert,
        tlsKey: flags.tlsKey,
        requireTls: flags.requireTls === true ? true : undefined,
        seed000: flags.seed000 === true ? true : undefined,
        seed001: flags.seed001 === true ? true : undefined,
        seed002: flags.seed002 === true ? true : undefined,
        seedAccount: flags.seedAccount,
      },
    });
  });
}

/** rm, rmdir, mkdir, mv, quota: one command each, no progress to show. */
function registerFileVerbs(ftp: Command, io: FtpCliIo): void {
  addConnectionOptions(ftp.command('rm').description('delete files on the server').argument('<paths...>', 'files')).action(async (paths: string[], flags: ConnectionFlags) => {
    await withClient(flags, io, async (client) => {
      for (const path of paths) await client.delete(path);
    });
  });

  addConnectionOptions(ftp.command('rmdir').description('remove empty folders on the server').argument('<paths...>', 'folders')).action(async (paths: string[], flags: ConnectionFlags) => {
    await withClient(flags, io, async (client) => {
      for (const path of paths) await client.rmdir(path);
    });
  });

  addConnectionOptions(ftp.command('mkdir').description('make folders on the server').argument('<paths...>', 'folders'))
    .option('--parents', 'make missing parent folders too, no error if it exists')
    .action(async (paths: string[], flags: ConnectionFlags & { parents?: boolean }) => {
      await withClient(flags, io, async (client) => {
        for (const path of paths) await (flags.parents ? client.mkdirs(path) : client.mkdir(path));
      });
    });

  addConnectionOptions(ftp.command('mv').description('rename or move a file or folder on the server').argument('<from>').argument('<to>')).action(
    async (from: string, to: string, flags: ConnectionFlags) => {
      await withClient(flags, io, (client) => client.rename(from, to));
    },
  );

  addConnectionOptions(ftp.command('quota').description('how much of your quota is used')).action(async (flags: ConnectionFlags) => {
    await withClient(flags, io, async (client) => {
      const quota = await client.quota();
      io.stdout.write(quota ? `${formatBytes(quota.used)} of ${formatBytes(quota.quota)} used, ${formatBytes(quota.free)} free\n` : 'no quota on this server\n');
    });
  });
}

/** `wharf ftp register NAME`: SITE REGISTER, the password from WHARF_PASSWORD, stdin or a hidden prompt. */
function registerAccountVerb(ftp: Command, io: FtpCliIo): void {
  addConnectionOptions(ftp.command('register').description('create an account on the server (SITE REGISTER, when self-registration is on)').argument('<name>')).action(
    async (name: string, flags: ConnectionFlags) => {
      let secret: string;
      if (io.env.WHARF_PASSWORD !== undefined) secret = io.env.WHARF_PASSWORD;
      else if (flags.passwordStdin) secret = await readFirstLine(io.stdin);
      else if (io.stdin.isTTY) {
        secret = await readHiddenLine(`New password for ${name}: `, { input: io.stdin, output: io.stderr });
        const again = await readHiddenLine('Again: ', { input: io.stdin, output: io.stderr });
        if (again !== secret) throw new UsageError('the passwords do not match');
      } else throw new UsageError('no password: set WHARF_PASSWORD, use --password-stdin, or run in a terminal to be asked');
      if (/\s/.test(name)) throw new UsageError('an account name has no spaces');
      const client = await connect(flags, io, false);
      try {
        const text = await client.register(name, secret);
        io.stdout.write(`${text}\n`);
      } finally {
        await client.quit();
      }
    },
  );
}
