import net from 'node:net';
import { rmSync, existsSync, statSync } from 'node:fs';
import { DEFAULT_CONNECTION_LIMITS, SocketConnection, normaliseAddress, type Connection, type ConnectionLimits, type StreamHandler } from './connection.js';
import { ConnectionLimiter, type ConnectionRefusal } from './connection-limiter.js';
import { untilDeadline } from './deadline.js';
import { WharfError, isErrnoException } from './errors.js';
import { silentLogger, type Logger } from './logger.js';
import { ServiceMetrics } from './metrics.js';
import type { ListeningAddress } from './service.js';

export interface StreamServerOptions extends Partial<ConnectionLimits> {
  /** Default 127.0.0.1: facing a network is an explicit choice (`--host 0.0.0.0`). */
  host?: string;
  /** Default 0 (any free port; read it back from `addresses`). */
  port?: number;
  /** Listen on a Unix stream socket at this path instead of TCP. */
  path?: string;
  backlog?: number;
  /** Connections open at once; the next one is refused politely. Default 10,000. */
  maxConnections?: number;
  /** Connections open at once from one IP address. Default 512. 0 disables. */
  maxConnectionsPerIp?: number;
  /** Bytes sent to a refused peer before closing, e.g. FTP's `421 Too many connections\r\n`. */
  refusal?: (reason: ConnectionRefusal | 'shutting-down') => string | Buffer | undefined;
  /** Disable Nagle (default true): request/response protocols want their small replies out now. */
  noDelay?: boolean;
  logger?: Logger;
  metrics?: ServiceMetrics;
  /** Called for each accepted connection; returns the protocol handler for it. */
  onConnection: (connection: Connection) => StreamHandler;
}

/** The limit settings every TCP service's configuration carries, under the names StreamServer takes. */
export interface StreamLimitsConfig {
  host: string;
  maxConnections: number;
  maxConnectionsPerIp: number;
  idleTimeoutMs: number;
  writeHighWaterBytes: number;
  maxWriteQueueBytes: number;
}

/** A service's configured limits, as StreamServer options: one mapping, not one per service. */
export function streamLimits(config: StreamLimitsConfig): StreamLimitsConfig {
  const { host, maxConnections, maxConnectionsPerIp, idleTimeoutMs, writeHighWaterBytes, maxWriteQueueBytes } = config;
  return { host, maxConnections, maxConnectionsPerIp, idleTimeoutMs, writeHighWaterBytes, maxWriteQueueBytes };
}

/** What a service adds to its configured limits to listen: where, and what to do with a connection. */
export type ServiceStreamOptions = Pick<StreamServerOptions, 'port' | 'refusal' | 'onConnection'>;

/**
 * Listen with a service's configuration: its host and limits (`streamLimits`), the host's logger
 * and metrics, and the port and handler the service names. The one mapping of a service's config
 * onto `StreamServer.listen`, so that a limit added to `streamLimitsSchema` reaches every service.
 */
export function listenStreamService(config: StreamLimitsConfig, host: { logger: Logger; metrics?: ServiceMetrics }, options: ServiceStreamOptions): Promise<StreamServer> {
  return StreamServer.listen({ ...streamLimits(config), logger: host.logger, metrics: host.metrics, ...options });
}

/**
 * A TCP (or Unix stream) server with the limits a public-facing server needs: connection caps
 * in total and per IP, per-connection back-pressure and idle timeout, graceful shutdown, and a
 * guarantee that neither an accept error nor a handler's exception brings it down.
 */
export class StreamServer {
  readonly #server: net.Server;
  readonly #options: StreamServerOptions;
  readonly #limits: ConnectionLimits;
  readonly #logger: Logger;
  readonly metrics: ServiceMetrics;
  readonly #connections = new Set<SocketConnection>();
  readonly #caps: ConnectionLimiter;
  #stopping = false;
  #addresses: ListeningAddress[] = [];

  private constructor(options: StreamServerOptions) {
    this.#options = options;
    this.#logger = options.logger ?? silentLogger();
    this.metrics = options.metrics ?? new ServiceMetrics('stream');
    this.#limits = {
      writeHighWaterBytes: options.writeHighWaterBytes ?? DEFAULT_CONNECTION_LIMITS.writeHighWaterBytes,
      maxWriteQueueBytes: options.maxWriteQueueBytes ?? DEFAULT_CONNECTION_LIMITS.maxWriteQueueBytes,
      idleTimeoutMs: options.idleTimeoutMs ?? DEFAULT_CONNECTION_LIMITS.idleTimeoutMs,
    };
    this.#caps = new ConnectionLimiter({ maxTotal: options.maxConnections ?? 10_000, maxPerIp: options.maxConnectionsPerIp ?? 512 });
    // allowHalfOpen: a peer that sends FIN may still be waiting for our answer (`printf ... | nc`).
    this.#server = net.createServer({ allowHalfOpen: true, noDelay: options.noDelay ?? true }, (socket) => this.#accept(socket));
    this.#server.on('error', (error) => {
      // A failed listen() is reported once, by listen() itself.
      if (!this.#server.listening) return;
      // After listen() succeeded, errors here are accept() failures (EMFILE, ENFILE, ...).
      // libuv keeps the listening socket alive; log and carry on rather than die.
      this.metrics.errors++;
      this.#logger.error({ err: error }, 'accept failed');
    });
  }

  static async listen(options: StreamServerOptions): Promise<StreamServer> {
    const server = new StreamServer(options);
    await server.#listen();
    return server;
  }

  get addresses(): ListeningAddress[] {
    return this.#addresses;
  }

  /** The first address's port (handy in tests that listened on port 0). */
  get port(): number {
    return this.#addresses[0]?.port ?? 0;
  }

  get connectionCount(): number {
    return this.#connections.size;
  }

  get connections(): ReadonlySet<Connection> {
    return this.#connections;
  }

  async #listen(): Promise<void> {
    const { path, backlog } = this.#options;
    if (path !== undefined) await removeStaleSocket(path);
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(listenError(error, path ?? `${this.#options.host ?? '127.0.0.1'}:${this.#options.port ?? 0}`));
      this.#server.once('error', onError);
      const done = () => {
        this.#server.off('error', onError);
        resolve();
      };
      if (path !== undefined) this.#server.listen({ path, backlog: backlog ?? 511 }, done);
      else this.#server.listen({ host: this.#options.host ?? '127.0.0.1', port: this.#options.port ?? 0, backlog: backlog ?? 511 }, done);
    });
    const address = this.#server.address();
    if (typeof address === 'string') this.#addresses = [{ transport: 'unix', address, port: 0 }];
    else if (address) this.#addresses = [{ transport: 'tcp', address: address.address, port: address.port }];
  }

  #accept(socket: net.Socket): void {
    const metrics = this.metrics;
    const ip = normaliseAddress(socket.remoteAddress ?? '');
    const refused = this.#stopping ? 'shutting-down' : this.#caps.admit(ip);
    if (refused) {
      metrics.connectionsRefused++;
      socket.on('error', () => {});
      const goodbye = this.#options.refusal?.(refused);
      if (goodbye !== undefined) socket.end(goodbye);
      else socket.destroy();
      // A refused peer that never reads must not hold the socket open.
      socket.setTimeout(5_000, () => socket.destroy());
      this.#logger.debug({ peer: ip, reason: refused }, 'connection refused');
      return;
    }
    metrics.connectionsTotal++;
    metrics.connectionsOpen++;
    const connection = new SocketConnection(socket, this.#limits, {
      metrics,
      logger: this.#logger,
      onClosed: (closed) => this.#forget(closed, ip),
    });
    this.#connections.add(connection);
    let handler: StreamHandler;
    try {
      handler = this.#options.onConnection(connection);
    } catch (error) {
      metrics.errors++;
      this.#logger.error({ err: error, peer: ip }, 'connection handler factory threw');
      socket.on('error', () => {});
      socket.on('close', () => this.#forget(connection, ip));
      socket.destroy();
      return;
    }
    connection.attach(handler);
  }

  #forget(connection: SocketConnection, ip: string): void {
    if (!this.#connections.delete(connection)) return;
    this.metrics.connectionsOpen--;
    this.#caps.release(ip);
    if (this.#stopping && this.#connections.size === 0) this.#drained?.();
  }

  #drained: (() => void) | undefined;

  /**
   * Graceful stop (mini-redis style): stop accepting now, ask every connection to finish
   * (`StreamHandler.shutdown`), wait up to `deadlineMs` for them to close, then destroy the rest.
   */
  async stop(deadlineMs = 5_000): Promise<void> {
    if (this.#stopping) return this.#stopped;
    this.#stopping = true;
    this.#stopped = this.#stop(deadlineMs);
    return this.#stopped;
  }

  #stopped: Promise<void> = Promise.resolve();

  async #stop(deadlineMs: number): Promise<void> {
    const closedListener = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    if (this.#connections.size > 0) {
      const drained = new Promise<void>((resolve) => {
        this.#drained = resolve;
      });
      for (const connection of this.#connections) connection.shutdown();
      if (!(await untilDeadline(drained, deadlineMs)).settled) {
        this.#logger.info({ open: this.#connections.size }, 'shutdown deadline passed; closing remaining connections');
        const remaining = new Promise<void>((resolve) => {
          this.#drained = resolve;
        });
        for (const connection of this.#connections) connection.destroy();
        if (this.#connections.size > 0) await remaining;
      }
    }
    await closedListener;
    if (this.#options.path !== undefined) rmSocketFile(this.#options.path);
  }
}

function listenError(error: Error, where: string): WharfError {
  if (isErrnoException(error)) {
    if (error.code === 'EADDRINUSE') return new WharfError('EPORTINUSE', `${where} is already in use (is another server running?)`, { cause: error });
    if (error.code === 'EACCES') return new WharfError('EDENIED', `no permission to listen on ${where} (ports below 1024 need root)`, { cause: error });
    if (error.code === 'EADDRNOTAVAIL') return new WharfError('ENOTLOCAL', `${where}: that address is not on this machine`, { cause: error });
  }
  return new WharfError('ELISTEN', `cannot listen on ${where}: ${error.message}`, { cause: error });
}

/**
 * A socket file left by a crashed server makes listen() fail with EADDRINUSE. Remove it only when
 * it is a socket and nothing answers on it: a live server's socket is left alone.
 */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    if (!existsSync(path) || !statSync(path).isSocket()) return;
  } catch {
    return;
  }
  const alive = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', () => resolve(false));
  });
  if (!alive) rmSocketFile(path);
}

function rmSocketFile(path: string): void {
  try {
    if (existsSync(path) && statSync(path).isSocket()) rmSync(path);
  } catch {
    // listen() reports the real problem.
  }
}

export { listenError };
