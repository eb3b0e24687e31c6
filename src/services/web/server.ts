import { readFileSync } from 'node:fs';
import { mkdir, realpath, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import http2 from 'node:http2';
import https from 'node:https';
import type { Socket } from 'node:net';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { z } from 'zod';
import { listenSchema, portSchema, sizeSchema } from '../../core/config.js';
import { WharfError, isErrnoException } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import type { ServiceMetrics } from '../../core/metrics.js';
import { PortalRegistry } from '../../core/portal.js';
import { formatServiceAddress, type ClientCommand, type ListeningAddress, type RunningService, type ServiceContext, type ServiceDefinition } from '../../core/service.js';
import { requireStore } from '../../store/service-store.js';
import { WebPortal } from './portal/portal.js';
import { normaliseAddress } from '../../core/connection.js';
import { isLoopbackAddress } from '../../core/address.js';
import { ConnectionLimiter } from '../../core/connection-limiter.js';
import { listenError } from '../../core/tcp-server.js';
import { welcomePage } from './pages.js';
import type { ByteBudget } from '../../core/byte-budget.js';
import { ConnectionGate } from './connections.js';
import { accessLogMessage, combinedLogLine, DEFAULT_MAX_RANGES } from './protocol.js';
import { StaticFiles, type AccessEntry, type WebRequest, type WebResponse } from './static-files.js';

const KiB = 1024;
const MiB = 1024 * KiB;

export const webConfigSchema = z
  .object({
    ...listenSchema,
    port: portSchema.default(8000),
    /** The folder to serve. Default: `<data>/www`, created with a welcome page the first time. */
    root: z.string().min(1).optional(),
    /** The file a folder URL serves (`/docs/` → `/docs/index.html`). */
    index: z.string().regex(/^[^/\\]+$/, 'a file name, without slashes').default('index.html'),
    /** List folders that have no index file. */
    listing: z.boolean().default(false),
    /** Cross-origin requests: `false`, `true` (any origin, `*`), or one origin (`https://app.example`). */
    cors: z.union([z.boolean(), z.string().min(1)]).default(false),
    /** `Cache-Control` on files. The default makes browsers revalidate (cheap: a 304). */
    cacheControl: z.string().min(1).default('no-cache'),
    /** Compress text on the fly (brotli or gzip, as the client prefers). */
    compress: z.boolean().default(true),
    /** Smaller files are not worth compressing. */
    compressMinBytes: sizeSchema.default(256),
    /** Larger files are not compressed on the fly (precompressed siblings still are served). */
    compressMaxBytes: sizeSchema.default(4 * MiB),
    /** Serve `name.br` / `name.gz` next to `name` to clients that accept them. */
    precompressed: z.boolean().default(true),
    /** Memory for cached small files (and their compressed forms). */
    cacheMaxBytes: sizeSchema.default(64 * MiB),
    /** Files up to this size are kept in memory; larger ones are streamed from disk. */
    cacheMaxFileBytes: sizeSchema.default(1 * MiB),
    /** A cached file is checked against the disk (one stat) when its last check is older than this. */
    revalidateMs: z.number().int().min(0).default(1_000),
    /** Watch folders of cached files (fs.watch) so edits show at once. */
    watch: z.boolean().default(true),
    /** More ranges than this in one `Range` header and the whole file is sent instead. */
    maxRanges: z.number().int().positive().default(DEFAULT_MAX_RANGES),
    /** Bytes read per disk read when streaming a large file. */
    streamChunkBytes: sizeSchema.default(512 * KiB),
    /** Read buffers of all large-file transfers together stay under this (each gets a smaller chunk when many run, then they wait). */
    streamMemoryBytes: sizeSchema.default(256 * MiB),
    /** Read buffers of the transfers of one connection (HTTP/1.1) or session (HTTP/2) stay under this. */
    connectionMemoryBytes: sizeSchema.default(4 * MiB),
    /** HTTP/2 streams open at once on one session (SETTINGS_MAX_CONCURRENT_STREAMS; nginx's is 128). */
    maxConcurrentStreams: z.number().int().positive().default(128),
    /** HTTP/1.1 requests pipelined behind the one being answered; a client that sends more without reading is dropped. */
    maxPipelined: z.number().int().positive().default(1024),
    /** `pino` (a JSON line per request in the service log, at level info), `off`, or a file path (combined log format). */
    accessLog: z.string().min(1).default('pino'),
    /** PEM certificate chain and key files: with both, the server speaks HTTPS (and HTTP/2). */
    cert: z.string().min(1).optional(),
    key: z.string().min(1).optional(),
    /** With TLS, offer HTTP/2 (ALPN h2) besides HTTP/1.1. */
    http2: z.boolean().default(true),
    /** A client must send its request headers within this time (slow-loris defence). */
    headersTimeoutMs: z.number().int().positive().default(10_000),
    /** ... and its whole request within this. */
    requestTimeoutMs: z.number().int().positive().default(30_000),
    /** An idle keep-alive connection is closed after this. */
    keepAliveTimeoutMs: z.number().int().positive().default(5_000),
    /**
     * The browser portal (docs/portal.md): sign-in, the admin page and every service's page, on
     * `/`, `/<section>` and `/portal/…`; other paths are the web root's. `wharf serve` turns it
     * on; `wharf web serve` serves a plain site unless given --portal. Needs the store.
     */
    portal: z.boolean().default(false),
    /**
     * Names the portal answers to besides its addresses and localhost (`wharf.lan`). Listening on
     * loopback, it answers no other name in `Host` (DNS rebinding: docs/portal.md, Security).
     */
    portalHosts: z.array(z.string().min(1).max(253).regex(/^[A-Za-z0-9.-]+$/, 'a host name, without port')).default([]),
    /** A connection with no traffic at all (a reader that stopped reading) is closed after this. */
    idleTimeoutMs: z.number().int().min(0).default(120_000),
    /** Largest request head (request line and headers); past it: 431. */
    maxHeaderBytes: sizeSchema.default(16 * KiB),
    maxConnections: z.number().int().positive().default(10_000),
    /** Connections open at once from one IP address; 0 disables. */
    maxConnectionsPerIp: z.number().int().min(0).default(512),
  })
  .strict()
  .refine((c) => (c.cert === undefined) === (c.key === undefined), { message: 'cert and key go together: give both or neither', path: ['cert'] })
  .refine((c) => c.headersTimeoutMs <= c.requestTimeoutMs, { message: 'headersTimeoutMs must not exceed requestTimeoutMs', path: ['headersTimeoutMs'] });

export type WebConfig = z.infer<typeof webConfigSchema>;
export type WebConfigInput = z.input<typeof webConfigSchema>;

/** Create `root` with a welcome page if it does not exist yet (the default root of a fresh data folder). */
export async function ensureWelcomeRoot(root: string): Promise<void> {
  try {
    await stat(root);
    return;
  } catch (error) {
    if (!isErrnoException(error) || error.code !== 'ENOENT') throw error;
  }
  await mkdir(root, { recursive: true });
  try {
    await writeFile(join(root, 'index.html'), welcomePage(), { flag: 'wx' });
  } catch (error) {
    // Another worker wrote it first.
    if (!isErrnoException(error) || error.code !== 'EEXIST') throw error;
  }
}

async function resolveRoot(root: string): Promise<string> {
  let real: string;
  try {
    real = await realpath(root);
  } catch (error) {
    throw new WharfError('EROOT', `the web root ${root} does not exist (${isErrnoException(error) ? error.code : String(error)}); create it or choose another with --root`);
  }
  if (!(await stat(real)).isDirectory()) throw new WharfError('EROOT', `the web root ${root} is not a folder`);
  return real;
}

function readPem(path: string, what: string): Buffer {
  try {
    return readFileSync(path);
  } catch (error) {
    throw new WharfError('ETLS', `cannot read the TLS ${what} ${path}: ${isErrnoException(error) ? error.code : String(error)}`);
  }
}

interface AccessLogger {
  write(entry: AccessEntry): void;
  close(): void;
}

function createAccessLog(target: string, logger: Logger, cwd: string): AccessLogger | undefined {
  if (target === 'off') return undefined;
  if (target === 'pino') {
    if (!logger.isLevelEnabled('info')) return undefined;
    return {
      write({ request, status, bytes, startMs }) {
        const peer = normaliseAddress(request.socket?.remoteAddress ?? '');
        const method = request.method ?? '-';
        const url = request.url ?? '-';
        const ms = Date.now() - startMs;
        // One event per request, its message the whole line (a terminal shows only that); the fields are for JSON readers.
        logger.info(
          { peer, method, url, http: request.httpVersion, status, bytes, ms },
          accessLogMessage({ remote: peer, method, target: url, httpVersion: request.httpVersion, status, bytes, ms }),
        );
      },
      close() {},
    };
  }
  const destination = pino.destination({ dest: resolve(cwd, target), append: true, mkdir: true, sync: false });
  destination.on('error', (error: unknown) => logger.error({ err: error }, 'access log write failed'));
  return {
    write({ request, status, bytes, startMs }) {
      const headers = request.headers;
      destination.write(
        `${combinedLogLine({
          remote: normaliseAddress(request.socket?.remoteAddress ?? ''),
          timeMs: startMs,
          method: request.method ?? '-',
          target: request.url ?? '-',
          httpVersion: request.httpVersion,
          status,
          bytes,
          referer: typeof headers.referer === 'string' ? headers.referer : undefined,
          userAgent: typeof headers['user-agent'] === 'string' ? headers['user-agent'] : undefined,
        })}\n`,
      );
    },
    close() {
      try {
        destination.flushSync();
      } catch {
        // not open yet, or already closed
      }
      destination.end();
    },
  };
}

/** A bare status answer on a raw connection (nothing else can be said there), then close. */
function endWithStatus(socket: Socket, status: number, headers: Record<string, string> = {}): void {
  const extra = Object.entries(headers).map(([name, value]) => `${name}: ${value}\r\n`).join('');
  socket.end(`HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\nConnection: close\r\n${extra}Content-Length: 0\r\n\r\n`);
  socket.destroySoon?.();
}

/** The listening web server: a Node http (or http2/https) server, the static handler, the limits. */
export interface WebServerHandle extends RunningService {
  readonly files: StaticFiles;
  /** `http` or `https`. */
  readonly scheme: 'http' | 'https';
}

type TlsFiles = { cert: Buffer; key: Buffer };
type NodeServer = http.Server | https.Server | http2.Http2SecureServer;

/** Bytes of a raw socket already added to the metrics. */
interface CountedBytes {
  read: number;
  written: number;
}

export async function startWeb(ctx: ServiceContext, config: WebConfig): Promise<WebServerHandle> {
  return RunningWebServer.start(ctx, config);
}

/**
 * The web service once started: the Node server (HTTP/1.1, HTTPS, or HTTP/2 with HTTP/1.1
 * fallback), the static files behind the connection gate, the connection caps and byte counting.
 */
class RunningWebServer implements WebServerHandle {
  readonly name = 'web';
  readonly files: StaticFiles;
  readonly scheme: 'http' | 'https';
  readonly #config: WebConfig;
  readonly #logger: Logger;
  readonly #metrics: ServiceMetrics;
  readonly #tls: TlsFiles | undefined;
  readonly #accessLog: AccessLogger | undefined;
  readonly #gate: ConnectionGate;
  readonly #server: NodeServer;
  /** Raw sockets (TCP, under any TLS) with the bytes already counted: counted on close and every second. */
  readonly #sockets = new Map<Socket, CountedBytes>();
  readonly #sessions = new Set<http2.ServerHttp2Session>();
  // Checked on the raw socket, before any TLS handshake or HTTP parsing.
  readonly #caps: ConnectionLimiter;
  readonly #counting: NodeJS.Timeout;
  /** The browser portal, asked first for every request (config.portal). */
  readonly #portal: WebPortal | undefined;
  #addresses: ListeningAddress[] = [];
  #stopping: Promise<void> | undefined;

  private constructor(ctx: ServiceContext, config: WebConfig, root: string, tls: TlsFiles | undefined) {
    this.#config = config;
    this.#logger = ctx.logger;
    this.#metrics = ctx.metrics;
    this.#tls = tls;
    this.scheme = tls ? 'https' : 'http';
    this.#accessLog = createAccessLog(config.accessLog, ctx.logger, process.cwd());
    this.files = this.#createFiles(root);
    this.#portal = config.portal ? this.#createPortal(ctx) : undefined;
    this.#gate = this.#createGate();
    this.#server = this.#createServer();
    this.#caps = new ConnectionLimiter({ maxTotal: config.maxConnections, maxPerIp: config.maxConnectionsPerIp });
    this.#server.on('clientError', (error: NodeJS.ErrnoException, socket: Socket) => this.#onClientError(error, socket));
    // CONNECT is parsed apart from other requests; Node drops it without a word unless asked.
    this.#server.on('connect', (_req: http.IncomingMessage, socket: Socket) => {
      this.#metrics.errors++;
      endWithStatus(socket, 405, { Allow: 'GET, HEAD' });
    });
    this.#counting = setInterval(() => {
      for (const socket of this.#sockets.keys()) this.#countBytes(socket);
    }, 1_000);
    this.#counting.unref();
    this.#server.on('connection', (socket: Socket) => this.#onConnection(socket));
    if (this.#portal !== undefined) this.#server.on('upgrade', (req: http.IncomingMessage, socket: Socket, head: Buffer) => this.#onUpgrade(req, socket, head));
    if (this.#speaksHttp2) this.#trackSessions(this.#server as http2.Http2SecureServer);
  }

  static async start(ctx: ServiceContext, config: WebConfig): Promise<RunningWebServer> {
    let rootPath: string;
    if (config.root === undefined) {
      rootPath = resolve(ctx.dataDir, 'www');
      await ensureWelcomeRoot(rootPath);
    } else {
      rootPath = resolve(config.root);
    }
    const root = await resolveRoot(rootPath);
    const tls = config.cert !== undefined && config.key !== undefined ? { cert: readPem(config.cert, 'certificate'), key: readPem(config.key, 'key') } : undefined;
    const web = new RunningWebServer(ctx, config, root, tls);
    await web.#listen();
    ctx.logger.debug({ root, tls: tls !== undefined, http2: web.#speaksHttp2 }, 'web root');
    const address = web.#addresses[0];
    if (config.portal && address !== undefined) {
      // What a newcomer opens: said once, beside the listening lines.
      const url = formatServiceAddress(address, web.scheme);
      ctx.logger.info({ url }, `portal: open ${url} in a browser (sign in with a wharf account; make the first admin with \`wharf user add NAME --admin\`)`);
    }
    return web;
  }

  get addresses(): ListeningAddress[] {
    return this.#addresses;
  }

  get #speaksHttp2(): boolean {
    return this.#tls !== undefined && this.#config.http2;
  }

  #createFiles(root: string): StaticFiles {
    const config = this.#config;
    const accessLog = this.#accessLog;
    return new StaticFiles({
      root,
      index: config.index,
      listing: config.listing,
      cors: config.cors === false ? false : config.cors === true ? '*' : config.cors,
      cacheControl: config.cacheControl,
      compress: config.compress,
      compressMinBytes: config.compressMinBytes,
      compressMaxBytes: config.compressMaxBytes,
      precompressed: config.precompressed,
      cacheMaxBytes: config.cacheMaxBytes,
      cacheMaxFileBytes: Math.min(config.cacheMaxFileBytes, config.cacheMaxBytes),
      revalidateMs: config.revalidateMs,
      watch: config.watch,
      maxRanges: config.maxRanges,
      streamChunkBytes: Math.max(4 * KiB, config.streamChunkBytes),
      streamMemoryBytes: config.streamMemoryBytes,
      connectionBudget: (req): ByteBudget | undefined => this.#gate.budgetFor(req),
      logger: this.#logger,
      metrics: this.#metrics,
      accessLog: accessLog === undefined ? undefined : (entry) => accessLog.write(entry),
    });
  }

  #createPortal(ctx: ServiceContext): WebPortal {
    const accessLog = this.#accessLog;
    return new WebPortal({
      store: requireStore(ctx, 'the web portal'),
      registry: ctx.portal ?? new PortalRegistry(),
      logger: this.#logger,
      secure: this.#tls !== undefined,
      statuses: ctx.statuses,
      hosts: {
        enforce: isLoopbackAddress(this.#config.host) || this.#config.host === 'localhost' || this.#config.portalHosts.length > 0,
        names: new Set(this.#config.portalHosts.map((name) => name.toLowerCase())),
      },
      accessLog: accessLog === undefined ? undefined : (entry) => accessLog.write(entry),
    });
  }

  /** A WebSocket upgrade: the portal's sections take theirs; any other path has none. */
  #onUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    if (this.#portal?.upgrade(req, socket, head) === true) return;
    endWithStatus(socket, 404);
  }

  /** Standard clients that reach this server: the portal's home page lists them. */
  clientCommands(): ClientCommand[] {
    const address = this.#addresses[0];
    if (address === undefined) return [];
    const url = formatServiceAddress(address, this.scheme);
    const insecure = this.scheme === 'https' ? ' -k' : '';
    return [
      { summary: 'fetch the home page', command: `curl${insecure} ${url}` },
      { summary: 'download a file of the web root', command: `wharf web get ${url}FILE` },
    ];
  }

  #createGate(): ConnectionGate {
    const files = this.files;
    const portal = this.#portal;
    const handle = files.handle as unknown as (req: http.IncomingMessage, res: http.ServerResponse) => void;
    return new ConnectionGate(
      {
        maxQueued: this.#config.maxPipelined,
        connectionMemoryBytes: this.#config.connectionMemoryBytes,
        onOverflow: (socket) => {
          this.#metrics.errors++;
          this.#logger.debug({ peer: socket.remoteAddress, limit: this.#config.maxPipelined }, 'too many pipelined requests: connection dropped');
        },
        writeError: (socket, status) => endWithStatus(socket, status),
      },
      portal === undefined ? handle : (req, res) => void (portal.handle(req, res) || handle(req, res)),
      (req, res, status, reason) => files.refuse(req, res, status, reason),
    );
  }

  /** HTTP/2 with HTTP/1.1 fallback under TLS (unless http2 is off), HTTPS, or plain HTTP/1.1, with the timeouts and limits. */
  #createServer(): NodeServer {
    const config = this.#config;
    const tls = this.#tls;
    const handler = this.#gate.handle;
    const http1Options: http.ServerOptions = {
      maxHeaderSize: config.maxHeaderBytes,
      requestTimeout: config.requestTimeoutMs,
      headersTimeout: config.headersTimeoutMs,
      keepAliveTimeout: config.keepAliveTimeoutMs,
      connectionsCheckingInterval: Math.max(100, Math.min(1_000, Math.floor(config.headersTimeoutMs / 2))),
      noDelay: true,
      // Node's own answer to an HTTP/1.1 request without Host is an empty 400; requestHeadProblem
      // (connections.ts) refuses it as well, with a page that says why.
      requireHostHeader: false,
    };
    let server: NodeServer;
    if (tls && config.http2) {
      server = http2.createSecureServer(
        { ...tls, allowHTTP1: true, handshakeTimeout: config.headersTimeoutMs, settings: { maxHeaderListSize: config.maxHeaderBytes, maxConcurrentStreams: config.maxConcurrentStreams } },
        handler as never,
      );
    } else if (tls) {
      server = https.createServer({ ...tls, handshakeTimeout: config.headersTimeoutMs, ...http1Options }, handler);
    } else {
      server = http.createServer(http1Options, handler);
    }
    if (server instanceof http.Server || server instanceof https.Server) {
      server.headersTimeout = config.headersTimeoutMs;
      server.requestTimeout = config.requestTimeoutMs;
      server.keepAliveTimeout = config.keepAliveTimeoutMs;
      server.maxHeadersCount = 200;
    }
    if (config.idleTimeoutMs > 0) server.setTimeout(config.idleTimeoutMs);
    return server;
  }

  /** A request Node cannot parse, one over the header limit, or one too slow: answer and close; never throw. */
  #onClientError(error: NodeJS.ErrnoException, socket: Socket): void {
    this.#metrics.errors++;
    if (error.code === 'ECONNRESET' || !socket.writable) {
      socket.destroy();
      return;
    }
    const status = error.code === 'HPE_HEADER_OVERFLOW' ? 431 : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    this.#logger.debug({ peer: socket.remoteAddress, code: error.code, status }, 'bad request');
    // Bytes after a request that closes the connection, or junk behind pipelined requests: the
    // answers in progress are finished first, never cut by an error written into them.
    if (this.#gate.deferError(socket, status)) return;
    endWithStatus(socket, status);
  }

  #onConnection(socket: Socket): void {
    const metrics = this.#metrics;
    const ip = normaliseAddress(socket.remoteAddress ?? '');
    if (this.#caps.admit(ip) !== undefined) {
      metrics.connectionsRefused++;
      socket.destroy();
      return;
    }
    this.#sockets.set(socket, { read: 0, written: 0 });
    metrics.connectionsTotal++;
    metrics.connectionsOpen++;
    socket.once('close', () => {
      this.#countBytes(socket);
      this.#sockets.delete(socket);
      metrics.connectionsOpen--;
      this.#caps.release(ip);
    });
  }

  #countBytes(socket: Socket): void {
    const seen = this.#sockets.get(socket);
    if (seen === undefined) return;
    this.#metrics.bytesIn += socket.bytesRead - seen.read;
    this.#metrics.bytesOut += socket.bytesWritten - seen.written;
    seen.read = socket.bytesRead;
    seen.written = socket.bytesWritten;
  }

  #trackSessions(server: http2.Http2SecureServer): void {
    server.on('session', (session: http2.ServerHttp2Session) => {
      this.#sessions.add(session);
      session.on('error', () => {});
      session.once('close', () => this.#sessions.delete(session));
    });
    server.on('sessionError', () => {
      this.#metrics.errors++;
    });
  }

  async #listen(): Promise<void> {
    const { host, port } = this.#config;
    const server = this.#server;
    await new Promise<void>((resolveListen, reject) => {
      // Worded as every TCP service words it (core's listenError), so `wharf serve` says it the same way.
      const onError = (error: Error) => reject(listenError(error, `${host}:${port}`));
      server.once('error', onError);
      server.listen({ host, port, backlog: 511 }, () => {
        server.off('error', onError);
        resolveListen();
      });
    });
    server.on('error', (error) => {
      this.#metrics.errors++;
      this.#logger.error({ err: error }, 'web server error');
    });
    const bound = server.address();
    this.#addresses = bound !== null && typeof bound === 'object' ? [{ transport: 'tcp', address: bound.address, port: bound.port }] : [];
  }

  stop(deadlineMs = 5_000): Promise<void> {
    this.#stopping ??= this.#closeServer(deadlineMs).finally(() => {
      clearInterval(this.#counting);
      this.#portal?.close();
      this.files.close();
      this.#accessLog?.close();
    });
    return this.#stopping;
  }

  /** Idle keep-alive connections go at once; busy ones get until the deadline. */
  #closeServer(deadlineMs: number): Promise<void> {
    const server = this.#server;
    return new Promise<void>((resolveStop) => {
      server.close(() => resolveStop());
      for (const session of this.#sessions) session.close();
      const idle = server as Partial<http.Server>;
      idle.closeIdleConnections?.();
      const sweep = setInterval(() => idle.closeIdleConnections?.(), 50);
      const hard = setTimeout(() => {
        for (const socket of this.#sockets.keys()) socket.destroy();
        for (const session of this.#sessions) session.destroy();
      }, deadlineMs);
      sweep.unref();
      hard.unref();
      server.once('close', () => {
        clearInterval(sweep);
        clearTimeout(hard);
      });
    });
  }
}

export const webService: ServiceDefinition<WebConfig> = {
  name: 'web',
  summary: 'static web server: HTTP/1.1 keep-alive, ranges, ETags, compression, HTTPS and HTTP/2 (the seeds\' WebServer)',
  configSchema: webConfigSchema,
  // The portal's sign-ins and accounts; a plain site needs no database.
  uses: (config) => (config.portal ? ['store'] : []),
  start: startWeb,
};

export type { WebRequest, WebResponse };
