import { basename } from 'node:path';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULT_BUSY_POLL_MICROS } from '../../core/busy-poll.js';
import { addHostOptions, nonNegativeInt, port, positiveInt, type CliContext } from '../../cli-kit/index.js';
import { parseSize } from '../../core/config.js';
import { TransferProgress } from '../../core/progress.js';
import { WharfError } from '../../core/errors.js';
import { TftpClient, type TftpClientOptions, type TftpClientResult } from './client.js';
import { MAX_BLOCK_SIZE, MIN_BLOCK_SIZE, type TransferMode } from './protocol.js';

interface ClientFlags {
  port: number;
  blksize: number;
  windowsize: number;
  mode: TransferMode;
  timeout: number;
  retries: number;
  tsize: boolean;
  busyPoll: number;
  output?: string;
  as?: string;
  quiet?: boolean;
}

function blockSize(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < MIN_BLOCK_SIZE || n > MAX_BLOCK_SIZE) throw new InvalidArgumentError(`expected a block size from ${MIN_BLOCK_SIZE} to ${MAX_BLOCK_SIZE}, got ${JSON.stringify(text)}`);
  return n;
}

function windowSize(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 65535) throw new InvalidArgumentError(`expected a window size from 1 to 65535, got ${JSON.stringify(text)}`);
  return n;
}

/** Microseconds of busy polling: 0 (off) to 10,000. */
function busyPoll(text: string): number {
  const n = nonNegativeInt(text);
  if (n > 10_000) throw new InvalidArgumentError(`expected microseconds from 0 to 10000, got ${JSON.stringify(text)}`);
  return n;
}

function size(text: string): number {
  try {
    return parseSize(text);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
}

function addClientOptions(command: Command): Command {
  return command
    .addOption(new Option('-p, --port <port>', 'server port (69 for most TFTP servers)').argParser(port).default(6969))
    .addOption(new Option('-b, --blksize <bytes>', `block size to ask for, ${MIN_BLOCK_SIZE}–${MAX_BLOCK_SIZE} (512 sends no option)`).argParser(blockSize).default(1468))
    .addOption(new Option('-w, --windowsize <blocks>', 'blocks per acknowledgement (RFC 7440; 1 is lockstep)').argParser(windowSize).default(1))
    .addOption(new Option('-m, --mode <mode>', 'transfer mode: octet (bytes as they are) or netascii (line ends converted)').choices(['octet', 'netascii']).default('octet'))
    .addOption(new Option('--timeout <ms>', 'first retransmission interval (doubles on each retry)').argParser(positiveInt).default(1_000))
    .addOption(new Option('--retries <n>', 'retransmissions in a row before giving up').argParser(positiveInt).default(5))
    .option('--no-tsize', 'do not ask for or announce the transfer size')
    .addOption(new Option('--busy-poll <us>', 'stay awake this many microseconds after each send while the server answers that fast (0: off)').argParser(busyPoll).default(DEFAULT_BUSY_POLL_MICROS))
    .option('-q, --quiet', 'no progress bar or summary');
}

function clientOptions(host: string, flags: ClientFlags, onProgress: TftpClientOptions['onProgress'], signal: AbortSignal): TftpClientOptions {
  return {
    host,
    port: flags.port,
    blockSize: flags.blksize,
    windowSize: flags.windowsize,
    mode: flags.mode,
    timeoutMs: flags.timeout,
    retries: flags.retries,
    transferSize: flags.tsize,
    busyPollMicros: flags.busyPoll,
    onProgress,
    signal,
  };
}

/** The shared bar (core/progress.ts): `get boot.img [====] 48% | 2.4 MiB / 5.0 MiB | …`; a summary on a terminal only. */
function progress(label: string, quiet: boolean | undefined): TransferProgress {
  return new TransferProgress({ stream: process.stderr, label, total: undefined, enabled: quiet !== true, summaryWhenPiped: false });
}

function negotiated(result: TftpClientResult): string {
  return result.optionsAccepted ? `; blksize ${result.blockSize}, windowsize ${result.windowSize}` : '; the server ignored the options: blksize 512, lockstep';
}

/**
 * Run one transfer with Ctrl-C wired to its abort: the transfer stops cleanly (an ERROR to the
 * server, the temporary file removed) instead of the process dying with a `.part` file left.
 */
async function interruptible<T>(work: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.on('SIGINT', onInterrupt);
  try {
    return await work(controller.signal);
  } finally {
    process.off('SIGINT', onInterrupt);
  }
}

function explain(action: string, error: unknown): never {
  // "nothing is listening on udp HOST:PORT" already says where: no second address before it.
  if (error instanceof WharfError && error.code === 'ENOLISTENER') throw error;
  if (error instanceof WharfError) throw new WharfError(error.code, `${action}: ${error.message}`, { cause: error });
  throw error;
}

/** `wharf tftp serve | get | put`. */
export function registerTftpCli(program: Command, ctx: CliContext): void {
  const tftp = program.command('tftp').description('TFTP server (PXE boot, firmware) and client');

  const serveCommand = tftp
    .command('serve')
    .description('run the TFTP server (UDP, default port 6969; 69 needs root)')
    .option('-H, --host <host>', 'listen address (default 127.0.0.1; 0.0.0.0 faces the network)')
    .addOption(new Option('-p, --port <port>', 'listen port (default 6969)').argParser(port))
    .option('--root <dir>', 'folder to serve (default <data>/files/tftp)')
    .option('--allow-write', 'accept uploads (new files only, unless --allow-overwrite)')
    .option('--allow-overwrite', 'let uploads replace existing files')
    .addOption(new Option('--max-upload <size>', 'largest upload, e.g. 64M (default 256M)').argParser(size))
    .addOption(new Option('--max-transfers <n>', 'transfers at once (default 256)').argParser(positiveInt))
    .addOption(new Option('--busy-poll <us>', `stay awake this many microseconds after each send while the client answers that fast (default ${DEFAULT_BUSY_POLL_MICROS}; 0: off)`).argParser(busyPoll));
  addHostOptions(serveCommand).action(async (flags: Record<string, unknown>, command: Command) => {
    await ctx.serve(['tftp'], command, {
      tftp: {
        host: flags.host,
        port: flags.port,
        root: flags.root,
        allowWrite: flags.allowWrite === true ? true : undefined,
        allowOverwrite: flags.allowOverwrite === true ? true : undefined,
        maxUploadBytes: flags.maxUpload,
        maxTransfers: flags.maxTransfers,
        busyPollMicros: flags.busyPoll,
      },
    });
  });

  addClientOptions(
    tftp
      .command('get')
      .description('download FILE from a TFTP server')
      .argument('<host>', 'server name or address')
      .argument('<file>', 'file name on the server')
      .option('-o, --output <path>', 'where to save it (default: the file name in this folder; - for stdout)'),
  ).action(async (host: string, file: string, flags: ClientFlags) => {
    const output = flags.output ?? basename(file);
    if (output === '' || output === '.' || output === '..') throw new WharfError('EUSAGE', `cannot tell where to save ${file}; use -o`);
    const toStdout = output === '-';
    const bar = progress(`get ${file}`, flags.quiet || toStdout);
    try {
      const result = await interruptible(async (signal) => {
        const client = await TftpClient.connect(clientOptions(host, flags, (bytes, total) => bar.update(bytes, total), signal));
        return client.get(file, toStdout ? process.stdout : output).finally(() => client.close());
      });
      bar.finish(true, negotiated(result));
    } catch (error) {
      bar.finish(false);
      explain(`cannot get ${file} from ${host}:${flags.port}`, error);
    }
  });

  addClientOptions(
    tftp
      .command('put')
      .description('upload FILE to a TFTP server (the server must allow writes)')
      .argument('<host>', 'server name or address')
      .argument('<file>', 'local file to send')
      .option('--as <name>', 'name on the server (default: the file name without its folders)'),
  ).action(async (host: string, file: string, flags: ClientFlags) => {
    const remote = flags.as ?? basename(file);
    const bar = progress(`put ${remote}`, flags.quiet);
    try {
      const result = await interruptible(async (signal) => {
        const client = await TftpClient.connect(clientOptions(host, flags, (bytes, total) => bar.update(bytes, total), signal));
        return client.put(file, remote).finally(() => client.close());
      });
      bar.finish(true, negotiated(result));
    } catch (error) {
      bar.finish(false);
      explain(`cannot put ${file} to ${host}:${flags.port}`, error);
    }
  });
}
