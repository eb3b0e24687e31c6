import { existsSync, rmSync, statSync } from 'node:fs';
import net from 'node:net';
import type * as UnixSocketAddon from 'node-unix-socket';
import type { DgramSocket } from 'node-unix-socket';
import { WharfError } from './errors.js';
import { silentLogger, type Logger } from './logger.js';
import { ServiceMetrics } from './metrics.js';
import type { ListeningAddress } from './service.js';

/** A Unix datagram peer: the path its socket is bound to, or '' when it never bound one (no reply possible). */
export interface UnixDatagramPeer {
  path: string;
}

export interface UnixDatagramServerOptions {
  path: string;
  /**
   * Datagrams larger than this are dropped before the handler sees them. Default and ceiling
   * 65,534: the addon reads into a 65,535-byte buffer and cuts longer datagrams silently, so a
   * full buffer may be a cut one and is dropped too.
   */
  maxDatagramBytes?: number;
  logger?: Logger;
  metrics?: ServiceMetrics;
  onMessage: (message: Buffer, peer: UnixDatagramPeer, server: UnixDatagramServer) => void;
}

const ADDON_READ_BYTES = 65_535;

/** SOCK_DGRAM on a Unix socket path, through the optional `node-unix-socket` addon (Node's dgram is UDP only). */
export class UnixDatagramServer {
  readonly #socket: DgramSocket;
  readonly #options: UnixDatagramServerOptions;
  readonly #logger: Logger;
  readonly metrics: ServiceMetrics;
  #closed = false;

  private constructor(socket: DgramSocket, options: UnixDatagramServerOptions) {
    this.#socket = socket;
    this.#options = options;
    this.#logger = options.logger ?? silentLogger();
    this.metrics = options.metrics ?? new ServiceMetrics('datagram');
  }

  static async bind(options: UnixDatagramServerOptions): Promise<UnixDatagramServer> {
    const { DgramSocket } = await loadAddon();
    await removeStaleSocket(options.path);
    const socket = new DgramSocket();
    try {
      socket.bind(options.path);
    } catch (error) {
      // An unbound addon socket still holds the event loop open until closed.
      socket.close();
      throw bindError(error as Error, options.path);
    }
    const server = new UnixDatagramServer(socket, options);
    server.#listen();
    return server;
  }

  get addresses(): ListeningAddress[] {
    return this.#closed ? [] : [{ transport: 'unix', address: this.#options.path, port: 0 }];
  }

  #listen(): void {
    const maxBytes = Math.min(this.#options.maxDatagramBytes ?? ADDON_READ_BYTES - 1, ADDON_READ_BYTES - 1);
    const metrics = this.metrics;
    this.#socket.on('data', (message: Buffer, path: string) => {
      metrics.datagramsIn++;
      metrics.bytesIn += message.length;
      if (message.length > maxBytes) {
        metrics.errors++;
        return;
      }
      try {
        this.#options.onMessage(message, { path }, this);
      } catch (error) {
        metrics.errors++;
        if (error instanceof WharfError) this.#logger.info({ peer: path, code: error.code }, error.message);
        else this.#logger.error({ err: error, peer: path }, 'unix datagram handler threw');
      }
    });
    this.#socket.on('error', (error: Error) => {
      metrics.errors++;
      this.#logger.warn({ err: error }, `unix datagram socket ${this.#options.path} failed: ${error.message}`);
    });
  }

  /** Send one datagram to a bound path. Never throws: a failed send (peer gone, buffer full) is counted. */
  send(data: Buffer | string, path: string): void {
    if (this.#closed || path === '') return;
    const buffer = typeof data === 'string' ? Buffer.from(data) : data;
    this.metrics.datagramsOut++;
    this.metrics.bytesOut += buffer.length;
    this.#socket.sendTo(buffer, 0, buffer.length, path, (error) => {
      if (error) this.metrics.errors++;
    });
  }

  /** Answer a peer; a peer that never bound a path cannot be answered, and is silently not. */
  reply(peer: UnixDatagramPeer, data: Buffer | string): void {
    this.send(data, peer.path);
  }

  async stop(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#socket.close();
    rmSocketFile(this.#options.path);
  }
}

async function loadAddon(): Promise<typeof UnixSocketAddon> {
  try {
    return await import('node-unix-socket');
  } catch (error) {
    throw new WharfError(
      'ENOADDON',
      'Unix datagram sockets need the optional package node-unix-socket (npm install node-unix-socket); it is not installed or has no build for this platform',
      { cause: error },
    );
  }
}

/**
 * A socket file left by a crashed server makes bind() fail. A stream connect() to a live datagram
 * socket fails with EPROTOTYPE, to a dead one with ECONNREFUSED: only the dead one is removed.
 */
async function removeStaleSocket(path: string): Promise<void> {
  try {
    if (!existsSync(path) || !statSync(path).isSocket()) return;
  } catch {
    return;
  }
  const stale = await new Promise<boolean>((resolve) => {
    const probe = net.connect({ path });
    probe.once('connect', () => {
      probe.destroy();
      resolve(false);
    });
    probe.once('error', (error: NodeJS.ErrnoException) => resolve(error.code === 'ECONNREFUSED'));
  });
  if (stale) rmSocketFile(path);
}

function rmSocketFile(path: string): void {
  try {
    if (existsSync(path) && statSync(path).isSocket()) rmSync(path);
  } catch {
    // bind() reports the real problem.
  }
}

// The addon's errors carry no errno code, only the system's message.
function bindError(error: Error, path: string): WharfError {
  if (/in use/i.test(error.message)) return new WharfError('EADDRINUSE', `unix datagram socket ${path} is already in use (is another server running?)`, { cause: error });
  if (/permission/i.test(error.message)) return new WharfError('EACCES', `no permission to bind unix datagram socket ${path}`, { cause: error });
  return new WharfError('EBIND', `cannot bind unix datagram socket ${path}: ${error.message}`, { cause: error });
}
