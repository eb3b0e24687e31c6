/**
 * FTP data connections: the passive listener a PASV/EPSV opens (one port of the configured range,
 * accepting one connection, from the control connection's peer only) and the active connection a
 * PORT/EPRT asks for (to the control connection's peer only: no bounce attacks, RFC 2577).
 */
import net from 'node:net';
import tls from 'node:tls';
import { WharfError, isErrnoException } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { sameAddress } from './protocol/addresses.js';

/**
 * Hands out passive ports from a range, round robin, skipping ports in use (by another session,
 * another worker or another program). `exclusive` listening keeps each port to this process even
 * under node:cluster, where a plain listen would share it with every worker.
 */
export class PassivePortAllocator {
  readonly #min: number;
  readonly #max: number;
  #next: number;

  constructor(range: { min: number; max: number }) {
    this.#min = range.min;
    this.#max = range.max;
    this.#next = range.min === 0 ? 0 : range.min + Math.floor(Math.random() * (range.max - range.min + 1));
  }

  get size(): number {
    return this.#min === 0 ? 0 : this.#max - this.#min + 1;
  }

  async listen(host: string): Promise<net.Server> {
    if (this.#min === 0) return listenOn(host, 0);
    const count = this.size;
    for (let tried = 0; tried < count; tried++) {
      const port = this.#next;
      this.#next = port >= this.#max ? this.#min : port + 1;
      try {
        return await listenOn(host, port);
      } catch (error) {
        if (isErrnoException(error) && (error.code === 'EADDRINUSE' || error.code === 'EACCES')) continue;
        throw error;
      }
    }
    throw new WharfError('ENOPORT', `every passive port from ${this.#min} to ${this.#max} is in use`);
  }
}

function listenOn(host: string, port: number): Promise<net.Server> {
  return new Promise((resolve, reject) => {
    const server = net.createServer({ pauseOnConnect: true, noDelay: false });
    const onError = (error: Error) => {
      server.close();
      reject(error);
    };
    server.once('error', onError);
    server.listen({ host, port, exclusive: true, backlog: 8 }, () => {
      server.off('error', onError);
      server.on('error', () => {});
      resolve(server);
    });
  });
}

export interface DataConnectionSource {
  readonly kind: 'passive' | 'active';
  /** Resolve with the connected (paused) socket, or reject after `timeoutMs`. */
  open(timeoutMs: number, signal?: AbortSignal): Promise<net.Socket>;
  /** Give up: close the listener and any socket not handed out. */
  close(): void;
}

export interface PassiveOptions {
  /** Only connections from this address are taken (unless permitForeign). */
  peerAddress: string;
  permitForeign: boolean;
  /** How long the port waits for its connection (vsftpd's accept_timeout). */
  acceptTimeoutMs: number;
  logger?: Logger;
}

/** A passive data port: listens until one acceptable connection arrives, then stops listening. */
export class PassiveDataSource implements DataConnectionSource {
  readonly kind = 'passive';
  readonly port: number;
  readonly #server: net.Server;
  readonly #options: PassiveOptions;
  #socket: net.Socket | undefined;
  #accepted = false;
  #closed = false;
  #waiter: { resolve: (socket: net.Socket) => void; reject: (error: Error) => void } | undefined;
  readonly #expiry: NodeJS.Timeout;

  constructor(server: net.Server, options: PassiveOptions) {
    this.#server = server;
    this.#options = options;
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    server.on('connection', (socket) => this.#accept(socket));
    // A port nobody connects to is given back.
    this.#expiry = setTimeout(() => this.close(), options.acceptTimeoutMs);
    this.#expiry.unref();
  }

  #accept(socket: net.Socket): void {
    socket.on('error', () => {});
    const from = socket.remoteAddress ?? '';
    if (this.#accepted || this.#closed) {
      socket.destroy();
      return;
    }
    if (!this.#options.permitForeign && !sameAddress(from, this.#options.peerAddress)) {
      this.#options.logger?.warn({ from, expected: this.#options.peerAddress, port: this.port }, 'refused a data connection from a foreign address');
      socket.destroy();
      return;
    }
    this.#accepted = true;
    this.#socket = socket;
    clearTimeout(this.#expiry);
    this.#server.close();
    // Closed by the client before any transfer command: nothing left to hand out.
    socket.once('close', () => {
      if (this.#socket === socket) this.#socket = undefined;
    });
    const waiter = this.#waiter;
    this.#waiter = undefined;
    if (waiter) {
      this.#socket = undefined;
      this.#closed = true;
      waiter.resolve(socket);
    }
  }

  open(timeoutMs: number, signal?: AbortSignal): Promise<net.Socket> {
    if (this.#socket && !this.#socket.destroyed) {
      const socket = this.#socket;
      this.#socket = undefined;
      this.#closed = true;
      return Promise.resolve(socket);
    }
    if (this.#closed || this.#accepted) return Promise.reject(new WharfError('ECLOSED', 'the passive data connection is closed; send PASV or EPSV again'));
    return new Promise<net.Socket>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiter = undefined;
        this.close();
        reject(new WharfError('EDEADLINE', `no data connection within ${Math.round(timeoutMs / 1000)} s`));
      }, timeoutMs);
      const onAbort = () => {
        clearTimeout(timer);
        this.#waiter = undefined;
        this.close();
        reject(new WharfError('EABORTED', 'aborted'));
      };
      signal?.addEventListener('abort', onAbort, { once: true });
      this.#waiter = {
        resolve: (socket) => {
          clearTimeout(timer);
          signal?.removeEventListener('abort', onAbort);
          resolve(socket);
        },
        reject,
      };
    });
  }

  close(): void {
    if (this.#closed && !this.#socket) return;
    this.#closed = true;
    clearTimeout(this.#expiry);
    this.#server.close();
    this.#socket?.destroy();
    this.#socket = undefined;
  }
}

/** An active (PORT/EPRT) data connection: connect to the client when the transfer starts. */
export class ActiveDataSource implements DataConnectionSource {
  readonly kind = 'active';
  readonly #host: string;
  readonly #port: number;
  readonly #localAddress: string | undefined;

  constructor(host: string, port: number, localAddress: string | undefined) {
    this.#host = host;
    this.#port = port;
    this.#localAddress = localAddress;
  }

  open(timeoutMs: number, signal?: AbortSignal): Promise<net.Socket> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host: this.#host, port: this.#port, ...(this.#localAddress ? { localAddress: this.#localAddress } : {}) });
      socket.pause();
      const timer = setTimeout(() => fail(new WharfError('EDEADLINE', `could not connect to ${this.#host}:${this.#port} within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
      const onAbort = () => fail(new WharfError('EABORTED', 'aborted'));
      signal?.addEventListener('abort', onAbort, { once: true });
      const fail = (error: Error) => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.destroy();
        reject(error);
      };
      socket.once('error', fail);
      socket.once('connect', () => {
        clearTimeout(timer);
        signal?.removeEventListener('abort', onAbort);
        socket.off('error', fail);
        socket.on('error', () => {});
        resolve(socket);
      });
    });
  }

  close(): void {
    // A socket already handed out belongs to its transfer.
  }
}

/**
 * Start TLS on an accepted data connection (PROT P), as the server. Resolves once the handshake is
 * done; a client that never starts it is dropped after `timeoutMs`.
 */
export function secureDataSocket(socket: net.Socket, secureContext: tls.SecureContext, timeoutMs: number): Promise<tls.TLSSocket> {
  return new Promise((resolve, reject) => {
    const secure = new tls.TLSSocket(socket, { isServer: true, secureContext });
    const timer = setTimeout(() => fail(new WharfError('EDEADLINE', 'the TLS handshake on the data connection did not finish in time')), timeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      secure.destroy();
      socket.destroy();
      reject(new WharfError('ETLS', `TLS on the data connection failed: ${error.message}`));
    };
    secure.once('error', fail);
    secure.once('secure', () => {
      clearTimeout(timer);
      secure.off('error', fail);
      secure.on('error', () => {});
      // TLS 1.3: OpenSSL sends its session tickets right after this event. Data and close_notify
      // written in the same turn can overtake them, and Python's ssl then fails unwrap() with
      // SHUTDOWN_WHILE_IN_INIT (ftplib's FTP_TLS on every short listing). One turn later is safe.
      setImmediate(() => resolve(secure));
    });
    socket.resume();
  });
}
