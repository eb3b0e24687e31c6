import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { addHostOptions, port, positiveInt, type CliContext } from '../../cli-kit/index.js';
import { UsageError } from '../../core/errors.js';
import { TransferProgress } from '../../core/progress.js';
import { WebClient } from './client.js';

/**
 * `wharf web serve`: the static web server; `wharf web get URL`: download a file with a progress
 * bar (curl and browsers are clients too: docs/web.md shows how).
 */
export function registerWebCli(program: Command, ctx: CliContext): void {
  const web = program.command('web').description("static web server (HTTP/1.1, HTTPS and HTTP/2): the seeds' WebServer class; `wharf web get URL` downloads");

  const serveCommand = web
    .command('serve')
    .description('serve a folder over HTTP (default 127.0.0.1:8000, root <data>/www)')
    .option('-H, --host <host>', 'listen address (default 127.0.0.1)')
    .addOption(new Option('-p, --port <port>', 'listen port (default 8000)').argParser(port))
    .option('--root <dir>', 'folder to serve (default <data>/www, created with a welcome page)')
    .option('--index <name>', 'file served for a folder URL (default index.html)')
    .option('--listing', 'list folders that have no index file')
    .option('--cors [origin]', 'allow cross-origin requests: from any origin, or only from ORIGIN')
    .option('--cache-control <value>', 'Cache-Control on files (default no-cache: browsers revalidate with a cheap 304)')
    .option('--no-compress', 'do not compress text on the fly (precompressed .br/.gz files are still served)')
    .option('--access-log <target>', 'pino (default: a JSON line per request on stderr), off, or a file (combined log format)')
    .option('--cert <file>', 'PEM certificate chain: with --key, serve HTTPS and HTTP/2')
    .option('--key <file>', 'PEM private key')
    .option('--no-http2', 'with TLS, speak HTTP/1.1 only')
    .option('--portal', 'also serve the browser portal (sign-in, the admin page; `wharf serve` does by default)')
    .option('--no-portal', 'serve only the folder (the default here)');
  addHostOptions(serveCommand).action(async (flags: Record<string, unknown>, command: Command) => {
    const path = (value: unknown) => (typeof value === 'string' ? resolve(value) : undefined);
    const accessLog = flags.accessLog;
    await ctx.serve(['web'], command, {
      web: {
        host: flags.host,
        port: flags.port,
        root: path(flags.root),
        index: flags.index,
        listing: flags.listing,
        cors: flags.cors,
        cacheControl: flags.cacheControl,
        // commander sets these to true unless --no-… was given; only pass the explicit "off".
        compress: flags.compress === false ? false : undefined,
        http2: flags.http2 === false ? false : undefined,
        accessLog: typeof accessLog === 'string' && accessLog !== 'pino' && accessLog !== 'off' ? resolve(accessLog) : accessLog,
        portal: typeof flags.portal === 'boolean' ? flags.portal : undefined,
        cert: path(flags.cert),
        key: path(flags.key),
      },
    });
  });

  web
    .command('get')
    .description('download URL with a progress bar: into a file whole or not at all, resumed after an interruption')
    .argument('<url>', 'http:// or https:// URL')
    .option('-o, --output <path>', 'where to save it (default: the last part of the URL here; - for stdout)')
    .option('--force', 'replace the file when it exists')
    .option('--no-resume', "start afresh instead of continuing wharf's partial download")
    .option('-q, --quiet', 'no progress bar')
    .addOption(new Option('--timeout <ms>', 'longest wait for a connection, an answer or more bytes (default 30000)').argParser(positiveInt))
    .option('--ca <file>', 'trust this certificate authority too (PEM): a self-signed server\'s')
    .option('-k, --insecure', 'accept any certificate (testing only)')
    .action(async (url: string, flags: WebGetFlags) => {
      await webGet(url, flags);
    });
}

interface WebGetFlags {
  output?: string;
  force?: boolean;
  resume: boolean;
  quiet?: boolean;
  timeout?: number;
  ca?: string;
  insecure?: boolean;
}

async function webGet(address: string, flags: WebGetFlags): Promise<void> {
  const client = await WebClient.connect(address, {
    timeoutMs: flags.timeout,
    ca: flags.ca === undefined ? undefined : readFileSync(flags.ca),
    rejectUnauthorized: flags.insecure !== true,
  });
  const url = new URL(address);
  const output = flags.output ?? outputName(url);
  // Only `-o -` means stdout; a URL ending in /- is saved as a file named `-`, as curl -O does.
  const toStdout = flags.output === '-';
  const label = `get ${lastSegment(url) || url.host}`;
  const controller = new AbortController();
  const onInterrupt = () => controller.abort();
  process.on('SIGINT', onInterrupt);
  let bar: TransferProgress | undefined;
  try {
    await client.get(url.pathname + url.search, toStdout ? process.stdout : output, {
      force: flags.force === true,
      resume: flags.resume,
      signal: controller.signal,
      onStart: ({ offset, total }) => {
        bar = new TransferProgress({ stream: process.stderr, label, total, offset, enabled: flags.quiet !== true && !toStdout, summaryWhenPiped: false });
      },
      onProgress: (bytes) => bar?.update(bytes),
    });
    bar?.finish(true, toStdout ? '' : ` into ${output}`);
  } catch (error) {
    bar?.finish(false);
    throw error;
  } finally {
    process.off('SIGINT', onInterrupt);
    await client.close();
  }
}

/** The last segment of a URL's path, decoded ('' when it ends with / or is not valid percent-encoding). */
function lastSegment(url: URL): string {
  try {
    return decodeURIComponent(url.pathname.slice(url.pathname.lastIndexOf('/') + 1));
  } catch {
    return '';
  }
}

/**
 * The file name a URL's path ends with, as curl -O and wget choose it (index.html for a folder).
 * A name that would leave this folder (`..%2Fx`) or cannot be a file name is refused: -o says where.
 */
function outputName(url: URL): string {
  if (url.pathname.endsWith('/')) return 'index.html';
  const name = lastSegment(url);
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) throw new UsageError(`cannot tell where to save ${url.href}; use -o FILE`);
  return name;
}
