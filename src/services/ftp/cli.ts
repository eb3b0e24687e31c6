import { createReadStream, createWriteStream, existsSync, readFileSync, statSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { addHostOptions, port, positiveInt, type CliContext } from '../../cli-kit/index.js';
import { readFirstLine, readHiddenLine } from '../../cli-kit/prompt.js';
import { parseSize } from '../../core/config.js';
import { UsageError, WharfError } from '../../core/errors.js';
import { FtpClient, FtpError, type FtpEntry } from './client.js';

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
export interface FtpCliIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
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
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr, env: process.env };
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

async function connect(flags: ConnectionFlags, io: FtpCliIo, login = true): Promise<FtpClient> {
  const user = login ? userOf(flags, io) : undefined;
  const secret = user !== undefined ? await password(flags, user, io) : undefined;
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
      client.close();
      if (error instanceof FtpError && error.reply.code === 530) throw new WharfError('ELOGIN', `login refused: ${error.reply.lines.join(' ')}`);
      throw error;
    }
  }
  return client;
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
// Progress

function humanBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(1)} ${units[unit]}`;
}

function humanDuration(seconds: number): string {
  if (!Number.isFinite(seconds)) return '--:--';
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const pad = (n: number) => String(n).padStart(2, '0');
  return h > 0 ? `${h}:${pad(m)}:${pad(s % 60)}` : `${pad(m)}:${pad(s % 60)}`;
}

/**
 * A progress bar on stderr (bytes, rate, ETA) when it is a terminal, and one summary line at the
 * end either way: the seed's `view_bar`, grown up.
 */
class TransferProgress {
  readonly #bar: cliProgress.SingleBar | undefined;
  readonly #io: FtpCliIo;
  readonly #label: string;
  readonly #start = Date.now();
  readonly #offset: number;
  #done = 0;

  constructor(io: FtpCliIo, label: string, total: number | undefined, offset: number, enabled: boolean) {
    this.#io = io;
    this.#label = label;
    this.#offset = offset;
    this.#done = offset;
    if (enabled && io.stderr.isTTY) {
      this.#bar = new cliProgress.SingleBar(
        {
          stream: io.stderr as NodeJS.WritableStream as never,
          format: `${label} [{bar}] {percentage}% | {done} / {size} | {rate} | ETA {eta_h}`,
          barsize: 30,
          hideCursor: true,
          clearOnComplete: true,
          fps: 10,
        },
        cliProgress.Presets.shades_classic,
      );
      this.#bar.start(total ?? 0, offset, this.#payload());
    }
  }

  #payload(): Record<string, string> {
    const seconds = (Date.now() - this.#start) / 1000;
    const rate = seconds > 0 ? (this.#done - this.#offset) / seconds : 0;
    const total = this.#bar?.getTotal() ?? 0;
    return {
      done: humanBytes(this.#done),
      size: total > 0 ? humanBytes(total) : '?',
      rate: `${humanBytes(rate)}/s`,
      eta_h: total > 0 && rate > 0 ? humanDuration((total - this.#done) / rate) : '--:--',
    };
  }

  update(bytesThisTransfer: number): void {
    this.#done = this.#offset + bytesThisTransfer;
    this.#bar?.update(this.#done, this.#payload());
  }

  finish(ok: boolean): void {
    this.#bar?.stop();
    if (!ok) return;
    const seconds = Math.max(0.001, (Date.now() - this.#start) / 1000);
    const moved = this.#done - this.#offset;
    const resumed = this.#offset > 0 ? ` (resumed at ${humanBytes(this.#offset)})` : '';
    this.#io.stderr.write(`${this.#label}: ${humanBytes(moved)} in ${seconds.toFixed(1)} s, ${humanBytes(moved / seconds)}/s${resumed}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// Verbs

interface TransferFlags {
  resume: boolean;
  progress: boolean;
  limitRate?: number | undefined;
}

async function getFile(client: FtpClient, remote: string, local: string | undefined, options: TransferFlags, io: FtpCliIo): Promise<void> {
  const toStdout = local === '-';
  let target = local ?? basename(remote);
  if (!toStdout && existsSync(target) && statSync(target).isDirectory()) target = join(target, basename(remote));
  const size = await client.size(remote);
  let offset = 0;
  if (options.resume && !toStdout && existsSync(target)) {
    offset = statSync(target).size;
    if (size !== undefined && offset > size) throw new WharfError('ERESUME', `${target} (${offset} bytes) is larger than ${remote} (${size} bytes): not the same file?`);
    if (size !== undefined && offset === size) {
      io.stderr.write(`${target}: already complete (${humanBytes(size)})\n`);
      return;
    }
  }
  const destination = toStdout ? new Writable({ write: (chunk, _e, cb) => void io.stdout.write(chunk, cb) }) : createWriteStream(target, offset > 0 ? { flags: 'r+', start: offset } : { flags: 'w' });
  const progress = new TransferProgress(io, basename(remote), size, offset, options.progress && !toStdout);
  let ok = false;
  try {
    await client.download(remote, destination, { offset, limitRate: options.limitRate, onProgress: (n) => progress.update(n) });
    ok = true;
  } finally {
    progress.finish(ok);
  }
}

async function putFile(client: FtpClient, local: string, remote: string | undefined, options: TransferFlags, io: FtpCliIo): Promise<void> {
  let info;
  try {
    info = await stat(local);
  } catch {
    throw new UsageError(`${local}: no such file`);
  }
  if (!info.isFile()) throw new UsageError(`${local}: not a file`);
  let target = remote ?? basename(local);
  if (target.endsWith('/')) target += basename(local);
  let offset = 0;
  if (options.resume) {
    // SIZE answers what the server has (on wharf, an interrupted upload's partial too): send the rest.
    offset = (await client.size(target)) ?? 0;
    if (offset > info.size) throw new WharfError('ERESUME', `${target} on the server (${offset} bytes) is larger than ${local} (${info.size} bytes): not the same file?`);
  }
  const progress = new TransferProgress(io, basename(local), info.size, offset, options.progress);
  let ok = false;
  try {
    await client.upload(createReadStream(local, { start: offset, highWaterMark: 1024 * 1024 }), target, { offset, limitRate: options.limitRate, onProgress: (n) => progress.update(n) });
    ok = true;
  } finally {
    progress.finish(ok);
  }
}

function formatEntries(entries: FtpEntry[], long: boolean): string {
  const sorted = [...entries].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  if (!long) return sorted.map((e) => `${e.name}${e.type === 'dir' ? '/' : ''}\n`).join('');
  return sorted
    .map((e) => {
      const kind = e.type === 'dir' ? 'd' : e.type === 'link' ? 'l' : e.type === 'file' ? '-' : '?';
      const size = e.type === 'dir' ? '' : String(e.size ?? '');
      const when = e.modified ? e.modified.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z') : ''.padEnd(20);
      return `${kind} ${size.padStart(14)}  ${when}  ${e.name}\n`;
    })
    .join('');
}

const SHELL_HELP = `commands (the seed client's verbs first):
  list | ls [PATH]          list a folder
  stor | put FILE [REMOTE]  upload (resumes when the server has part of it)
  retr | get FILE [LOCAL]   download (resumes a partial local file)
  exit | quit | bye         leave
  cd PATH, pwd, mkdir PATH, rm PATH, rmdir PATH, mv FROM TO, quota, help
`;

function shellWords(line: string): string[] {
  const words: string[] = [];
  const pattern = /"((?:[^"\\]|\\.)*)"|'([^']*)'|(\S+)/g;
  for (let match = pattern.exec(line); match; match = pattern.exec(line)) words.push(match[1]?.replace(/\\(.)/g, '$1') ?? match[2] ?? match[3] ?? '');
  return words;
}

async function shell(client: FtpClient, flags: ConnectionFlags, io: FtpCliIo): Promise<void> {
  const tty = io.stdin.isTTY === true;
  const out = (text: string) => void io.stdout.write(text);
  if (tty) out(`\n====== wharf ftp ======\n${SHELL_HELP}=======================\n`);
  const lines = createInterface({ input: io.stdin, output: tty ? io.stdout : undefined, terminal: tty });
  if (tty) {
    lines.setPrompt('ftp> ');
    lines.prompt();
  }
  const transferOptions: TransferFlags = { resume: true, progress: flags.progress !== false, limitRate: flags.limitRate };
  try {
    for await (const line of lines) {
      const [verb = '', ...args] = shellWords(line.trim());
      try {
        switch (verb.toLowerCase()) {
          case '':
            break;
          case 'exit':
          case 'quit':
          case 'bye':
            return;
          case 'help':
          case '?':
            out(SHELL_HELP);
            break;
          case 'list':
          case 'ls':
          case 'dir': {
            const entries = await client.list(args[0] ?? '');
            // The seed's server said FAIL for an empty library; say it in words.
            out(entries.length === 0 ? '(empty)\n' : formatEntries(entries, verb.toLowerCase() !== 'list'));
            break;
          }
          case 'stor':
          case 'put':
            if (!args[0]) throw new UsageError('stor FILE [REMOTE]');
            await putFile(client, args[0], args[1], transferOptions, io);
            break;
          case 'retr':
          case 'get':
            if (!args[0]) throw new UsageError('retr FILE [LOCAL]');
            await getFile(client, args[0], args[1], transferOptions, io);
            break;
          case 'cd':
            await client.cd(args[0] ?? '/');
            break;
          case 'pwd':
            out(`${await client.pwd()}\n`);
            break;
          case 'mkdir':
            if (!args[0]) throw new UsageError('mkdir PATH');
            await client.mkdir(args[0]);
            break;
          case 'rm':
            if (!args[0]) throw new UsageError('rm PATH');
            await client.delete(args[0]);
            break;
          case 'rmdir':
            if (!args[0]) throw new UsageError('rmdir PATH');
            await client.rmdir(args[0]);
            break;
          case 'mv':
            if (!args[0] || !args[1]) throw new UsageError('mv FROM TO');
            await client.rename(args[0], args[1]);
            break;
          case 'quota': {
            const quota = await client.quota();
            out(quota ? `${humanBytes(quota.used)} of ${humanBytes(quota.quota)} used, ${humanBytes(quota.free)} free\n` : 'no quota on this server\n');
            break;
          }
          default:
            io.stderr.write(`unknown command "${verb}" (try help)\n`);
        }
      } catch (error) {
        if (!(error instanceof WharfError)) throw error;
        io.stderr.write(`${error.message}\n`);
      }
      if (tty) lines.prompt();
    }
  } finally {
    lines.close();
  }
}

/**
 * `wharf ftp`: the server (`serve`) and a client for any FTP server: list, get, put, rm, mkdir,
 * mv, register, quota, and an interactive shell with the seed client's verbs.
 */
export function registerFtpCli(program: Command, ctx: CliContext, io: FtpCliIo = processIo()): void {
  const ftp = program.command('ftp').description('FTP file server (RFC 959 + extensions, FTPS) and its client');

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
    .option('--require-tls', 'refuse unencrypted logins and data connections');
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
      },
    });
  });

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
    .option('-c, --resume', 'continue a partial local file')
    .action(async (remote: string, local: string | undefined, flags: ConnectionFlags & { resume?: boolean }) => {
      await withClient(flags, io, (client) => getFile(client, remote, local, { resume: flags.resume === true, progress: flags.progress !== false, limitRate: flags.limitRate }, io));
    });

  addConnectionOptions(ftp.command('put').description('upload a file, with a progress bar').argument('<local>', 'file to send').argument('[remote]', 'name on the server (default: the same name)'))
    .option('-c, --resume', 'send only what the server does not have yet (after an interrupted upload)')
    .action(async (local: string, remote: string | undefined, flags: ConnectionFlags & { resume?: boolean }) => {
      await withClient(flags, io, (client) => putFile(client, local, remote, { resume: flags.resume === true, progress: flags.progress !== false, limitRate: flags.limitRate }, io));
    });

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
      io.stdout.write(quota ? `${humanBytes(quota.used)} of ${humanBytes(quota.quota)} used, ${humanBytes(quota.free)} free\n` : 'no quota on this server\n');
    });
  });

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

  addConnectionOptions(ftp.command('shell').description('interactive session: list, stor FILE, retr FILE, exit (the seed client) and more')).action(async (flags: ConnectionFlags) => {
    await withClient(flags, io, (client) => shell(client, flags, io));
  });
}
