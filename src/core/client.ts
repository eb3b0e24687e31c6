import type dgram from 'node:dgram';
import net from 'node:net';
import { WharfError, isErrnoException } from './errors.js';
import { bindUdpSocket, closeUdpSocket, connectUdpSocket, createUdpSocket } from './udp-socket.js';

export type StreamTarget = { host: string; port: number } | { path: string };

function describe(target: StreamTarget): string {
  return 'path' in target ? target.path : `${target.host.includes(':') ? `[${target.host}]` : target.host}:${target.port}`;
}

/** Turn a connect failure into a sentence a user can act on. */
export function connectError(error: unknown, where: string): WharfError {
  if (isErrnoException(error)) {
    switch (error.code) {
      case 'ECONNREFUSED':
        return new WharfError('ENOLISTENER', `nothing is listening on ${where} (is the server running?)`, { cause: error });
      case 'ENOTFOUND':
      case 'EAI_AGAIN':
        return new WharfError('ENOHOST', `cannot resolve the host in ${where}`, { cause: error });
      case 'ETIMEDOUT':
        return new WharfError('EDEADLINE', `connecting to ${where} timed out`, { cause: error });
      case 'ENOENT':
        return new WharfError('EMISSING', `no socket at ${where}`, { cause: error });
      default:
    }
  }
  return new WharfError('ECONNECT', `cannot connect to ${where}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
}

/** Connect a TCP or Unix stream socket, with a connect timeout and a readable error. */
export async function connectStream(target: StreamTarget, options: { timeoutMs?: number; noDelay?: boolean } = {}): Promise<net.Socket> {
  const where = describe(target);
  const timeoutMs = options.timeoutMs ?? 10_000;
  return new Promise((resolve, reject) => {
    const socket = 'path' in target ? net.connect({ path: target.path }) : net.connect({ host: target.host, port: target.port, noDelay: options.noDelay ?? true });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new WharfError('EDEADLINE', `connecting to ${where} timed out after ${timeoutMs} ms`));
    }, timeoutMs);
    socket.once('connect', () => {
      clearTimeout(timer);
      socket.removeAllListeners('error');
      resolve(socket);
    });
    socket.once('error', (error) => {
      clearTimeout(timer);
      reject(connectError(error, where));
    });
  });
}

/**
 * The kernel said nothing listens at a UDP address (ICMP port unreachable, which a connected
 * socket hears as ECONNREFUSED): no point waiting out the retries.
 */
export function portUnreachable(host: string, port: number, what = 'server'): WharfError {
  return new WharfError('ENOLISTENER', `nothing is listening on udp ${describe({ host, port })} (is the ${what} running?)`);
}

export interface DatagramRequestOptions {
  /** How long to wait for each answer before resending. Default 1,000 ms. */
  timeoutMs?: number;
  /** How many times to send in all. Default 3. */
  attempts?: number;
}

/**
 * A UDP client socket for request/answer protocols: `request` sends a datagram and resolves with
 * the next datagram from that server, resending on silence (UDP may lose either one). The socket
 * is connected to the server, so the kernel drops datagrams from anyone else and reports a
 * closed port (ICMP port unreachable): a request then fails at once instead of timing out.
 */
export class DatagramClient {
  readonly #socket: dgram.Socket;
  readonly #host: string;
  readonly #port: number;
  #waiter: ((message: Buffer) => void) | undefined;
  #refused: ((error: WharfError) => void) | undefined;
  readonly #listeners = new Set<(message: Buffer, from: dgram.RemoteInfo) => void>();

  private constructor(socket: dgram.Socket, host: string, port: number) {
    this.#socket = socket;
    this.#host = host;
    this.#port = port;
    socket.on('message', (message, from) => {
      for (const listener of this.#listeners) listener(message, from);
      const waiter = this.#waiter;
      if (waiter && from.port === this.#port) {
        this.#waiter = undefined;
        waiter(message);
      }
    });
    socket.on('error', (error) => {
      // Other errors (a full buffer) are a lost datagram, which the request's resends cover.
      if (isErrnoException(error) && error.code === 'ECONNREFUSED') this.#refused?.(portUnreachable(this.#host, this.#port));
    });
  }

  static async open(host: string, port: number, options: { localPort?: number; localHost?: string } = {}): Promise<DatagramClient> {
    const socket = createUdpSocket(host);
    try {
      await bindUdpSocket(socket, options.localPort ?? 0, options.localHost || undefined);
      await connectUdpSocket(socket, port, host);
    } catch (error) {
      socket.close();
      throw connectError(error, describe({ host, port }));
    }
    return new DatagramClient(socket, host, port);
  }

  get localPort(): number {
    return this.#socket.address().port;
  }

  /** Every datagram that arrives, whoever sent it (chat rooms push without being asked). */
  onMessage(listener: (message: Buffer, from: dgram.RemoteInfo) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  send(data: Buffer | string): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#socket.send(data, (error) => (error ? reject(error) : resolve()));
    });
  }

  async request(data: Buffer | string, options: DatagramRequestOptions = {}): Promise<Buffer> {
    const timeoutMs = options.timeoutMs ?? 1_000;
    const attempts = options.attempts ?? 3;
    for (let attempt = 1; attempt <= attempts; attempt++) {
      const answer = new Promise<Buffer | undefined>((resolve, reject) => {
        const timer = setTimeout(() => {
          this.#waiter = undefined;
          this.#refused = undefined;
          resolve(undefined);
        }, timeoutMs);
        this.#waiter = (message) => {
          clearTimeout(timer);
          this.#refused = undefined;
          resolve(message);
        };
        this.#refused = (error) => {
          clearTimeout(timer);
          this.#waiter = undefined;
          this.#refused = undefined;
          reject(error);
        };
      });
      // Settled by the socket's error event perhaps before the await below is reached.
      answer.catch(() => undefined);
      await this.send(data);
      const message = await answer;
      if (message) return message;
    }
    throw new WharfError('EDEADLINE', `no answer from udp ${this.#host}:${this.#port} after ${attempts} tries (is the server running?)`);
  }

  close(): Promise<void> {
    return closeUdpSocket(this.#socket);
  }
}

/**
 * Close a client's stream socket and resolve once it is closed: `end` sends FIN and waits for the
 * peer's (a server that never closes is cut after `graceMs`), `destroy` closes at once. Every
 * library client's `async close()` is this, so a caller that awaits it leaves no socket behind.
 */
export function closeStream(socket: net.Socket, how: 'end' | 'destroy', graceMs = 2_000): Promise<void> {
  if (socket.closed) return Promise.resolve();
  return new Promise((resolve) => {
    socket.once('close', () => {
      clearTimeout(timer);
      resolve();
    });
    const timer = setTimeout(() => socket.destroy(), graceMs);
    timer.unref();
    if (how === 'end') socket.end();
    else socket.destroy();
  });
}
