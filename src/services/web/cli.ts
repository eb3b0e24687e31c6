import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { addHostOptions, port, type CliContext } from '../../cli-kit/index.js';

/**
 * `wharf web serve`: the static web server. There is no client verb: curl and browsers are the
 * clients (docs/web.md shows how).
 */
export function registerWebCli(program: Command, ctx: CliContext): void {
  const web = program.command('web').description('static web server (HTTP/1.1, HTTPS and HTTP/2): the seeds\' WebServer class');

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
    .option('--no-http2', 'with TLS, speak HTTP/1.1 only');
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
        cert: path(flags.cert),
        key: path(flags.key),
      },
    });
  });
}
