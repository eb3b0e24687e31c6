// EXPERIMENT COPY of src/core/connection.ts (bench/experiments only); changes are marked EXPERIMENT.
import type { Socket } from 'node:net';
import { CodecError } from '../../../src/codec/errors.js';
import { WharfError, isPeerGone } from '../../../src/core/errors.js';
import type { Logger } from '../../../src/core/logger.js';
import type { ServiceMetrics } from '../../../src/core/metrics.js';

/**
 * What a protocol implements for one stream connection (Twisted's Protocol, in callbacks).
 * Only `data` is required. Callbacks run on the event loop; a throw closes this connection
 * (and is logged) but never reaches the server.
 */
export interface StreamHandler {
  /** Bytes from the peer, in order, in whatever chunks TCP delivered them. */
  data(chunk: Buffer): void;
  /**
   * The peer half-closed (sent FIN). Default when absent: finish our writes, then close.
   * A protocol that still has work to send (a reply in progress) may implement this and call
   * `connection.end()` itself when done.
   */
  end?(): void;
  /** The connection is gone (always called exactly once, last). `error` is set for a failure. */
  close?(error?: Error): void;
  /**
   * The server is shutting down gracefully: say goodbye at a message boundary (FTP: 421) and
   * end the connection. Default when absent: end the connection once pending writes are flushed.
   */
  shutdown?(): void;
  /** The idle timeout fired. Default when absent: the connection is destroyed. */
  timeout?(): void;
}

/** The transport side a handler talks to: a real socket or, in tests, memory. */
export interface Connection {
  readonly id: number;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  /** Queue bytes for the peer. Returns false once the write queue is past its high-water mark. */
  write(data: Buffer | Uint8Array | string): boolean;
  /** Flush queued writes, then send FIN. */
  end(data?: Buffer | Uint8Array | string): void;
  /** Close now, dropping queued writes. */
  destroy(error?: Error): void;
  /** Stop/resume delivering `data` (flow control a protocol asks for, e.g. while a disk write is pending). */
  pauseReading(): void;
  resumeReading(): void;
  /** Milliseconds without traffic in either direction before `timeout` (0 disables). */
  setIdleTimeout(ms: number): void;
  /** Bytes queued for the peer and not yet handed to the kernel. */
  readonly writeQueueBytes: number;
  readonly closed: boolean;
}

export interface ConnectionLimits {
  /** Pause reading from the peer while more than this many bytes wait to be written to it. */
  writeHighWaterBytes: number;
  /** A peer that lets more than this pile up is not reading: it is disconnected. */
  maxWriteQueueBytes: number;
  /** 0 disables. */
  idleTimeoutMs: number;
}

export const DEFAULT_CONNECTION_LIMITS: ConnectionLimits = {
  writeHighWaterBytes: 1024 * 1024,
  maxWriteQueueBytes: 16 * 1024 * 1024,
  idleTimeoutMs: 5 * 60_000,
};

let nextConnectionId = 1;

/**
 * EXPERIMENT (bench/experiments only): which idle-timeout mechanism the copy uses, and whether
 * writes are coalesced per event-loop turn.
 */
export const experiment: { idleTimer: 'socket' | 'sweep'; coalesce: boolean } = { idleTimer: 'socket', coalesce: false };

/**
 * EXPERIMENT (coalesce): writes made during one turn of the event loop are queued on their
 * connection and handed to the kernel together in the check phase (setImmediate), after the poll
 * phase has delivered every readable socket's data: one write() (or one writev() for several
 * chunks) per connection per turn, the way asyncio writes after it has read all ready sockets.
 */
const connectionsToFlush = new Set<SocketConnection>();
let flushScheduled = false;
function flushAll(): void {
  flushScheduled = false;
  for (const connection of connectionsToFlush) connection.flushPending();
  connectionsToFlush.clear();
}

/**
 * EXPERIMENT: the idle timeout as one coarse sweep for all connections. A connection only sets a
 * flag on traffic (no timer re-armed per chunk); the sweep, once a second, turns the flag into a
 * timestamp and times out those silent for longer than their limit (resolution: one second).
 */
class IdleSweeper {
  readonly #connections = new Set<SocketConnection>();
  #timer: NodeJS.Timeout | undefined;

  add(connection: SocketConnection): void {
    this.#connections.add(connection);
    if (!this.#timer) {
      this.#timer = setInterval(() => this.#sweep(), 1_000);
      this.#timer.unref();
    }
  }

  delete(connection: SocketConnection): void {
    this.#connections.delete(connection);
    if (this.#connections.size === 0 && this.#timer) {
      clearInterval(this.#timer);
      this.#timer = undefined;
    }
  }

  #sweep(): void {
    const now = Date.now();
    for (const connection of this.#connections) connection.idleCheck(now);
  }
}
const sweeper = new IdleSweeper();

/**
 * A net.Socket with wharf's rules attached: back-pressure, a bounded write queue, an idle
 * timeout, half-close, metrics, and handler errors contained to this one connection.
 *
 * Back-pressure is the part the seeds never had: an echo server whose peer sends but never
 * reads would otherwise buffer without limit. Here, when what we owe the peer passes the
 * high-water mark we stop reading from it (so it stops being able to send, TCP's own flow
 * control takes over), and resume on 'drain'. If a single reply is so large that the queue
 * passes the hard limit anyway, the peer is dropped.
 */
export class SocketConnection implements Connection {
  readonly id = nextConnectionId++;
  readonly remoteAddress: string;
  readonly remotePort: number;
  readonly localAddress: string;
  readonly localPort: number;
  handler: StreamHandler | undefined;

  #socket: Socket;
  #limits: ConnectionLimits;
  #metrics: ServiceMetrics | undefined;
  #logger: Logger | undefined;
  #closed = false;
  #pausedByHandler = false;
  #pausedByBackPressure = false;
  #peerEnded = false;
  #closeError: Error | undefined;
  #onClosed: ((connection: SocketConnection) => void) | undefined;
  /** EXPERIMENT (sweep): traffic since the last sweep, and when the last sweep saw traffic. */
  active = false;
  #lastActive = Date.now();
  #idleMs = 0;
  #onIdle: (() => void) | undefined;
  /** EXPERIMENT (coalesce): chunks written this turn, not yet given to the socket. */
  #pending: Array<Buffer | Uint8Array | string> = [];
  #pendingBytes = 0;

  constructor(
    socket: Socket,
    limits: ConnectionLimits,
    options: { metrics?: ServiceMetrics; logger?: Logger; onClosed?: (connection: SocketConnection) => void } = {},
  ) {
    this.#socket = socket;
    this.#limits = limits;
    this.#metrics = options.metrics;
    this.#logger = options.logger;
    this.#onClosed = options.onClosed;
    this.remoteAddress = normaliseAddress(socket.remoteAddress ?? '');
    this.remotePort = socket.remotePort ?? 0;
    this.localAddress = normaliseAddress(socket.localAddress ?? '');
    this.localPort = socket.localPort ?? 0;
  }

  /** Wire the socket's events to `handler`. Separate from the constructor so a handler factory can see the connection first. */
  attach(handler: StreamHandler): void {
    this.handler = handler;
    const socket = this.#socket;
    const metrics = this.#metrics;
    socket.on('data', (chunk: Buffer) => {
      this.active = true;
      if (metrics) metrics.bytesIn += chunk.length;
      try {
        handler.data(chunk);
      } catch (error) {
        this.#handlerFailed(error);
      }
    });
    socket.on('end', () => {
      this.#peerEnded = true;
      if (handler.end) {
        try {
          handler.end();
        } catch (error) {
          this.#handlerFailed(error);
        }
      } else {
        this.end();
      }
    });
    socket.on('drain', () => {
      if (this.#pausedByBackPressure) {
        this.#pausedByBackPressure = false;
        if (!this.#pausedByHandler && !this.#closed) socket.resume();
      }
    });
    const onIdle = () => {
      if (handler.timeout) {
        try {
          handler.timeout();
        } catch (error) {
          this.#handlerFailed(error);
        }
      } else {
        if (metrics) metrics.errors++;
        this.destroy(new WharfError('EIDLE', 'idle timeout'));
      }
    };
    this.#onIdle = onIdle;
    socket.on('timeout', onIdle);
    socket.on('error', (error) => {
      // Peers vanishing is normal life for a server; anything else is worth a log line.
      if (!isPeerGone(error)) this.#logger?.warn({ err: error, connection: this.id, peer: this.remoteAddress }, 'socket error');
      this.#closeError ??= error;
    });
    socket.on('close', () => {
      this.#closed = true;
      sweeper.delete(this);
      this.#onClosed?.(this);
      if (handler.close) {
        try {
          handler.close(this.#closeError);
        } catch (error) {
          this.#logger?.error({ err: error, connection: this.id }, 'handler close() threw');
        }
      }
    });
    this.setIdleTimeout(this.#limits.idleTimeoutMs);
  }

  /** EXPERIMENT (sweep): called once a second by the sweeper. */
  idleCheck(now: number): void {
    if (this.active) {
      this.active = false;
      this.#lastActive = now;
    } else if (this.#idleMs > 0 && now - this.#lastActive >= this.#idleMs) {
      this.#lastActive = now;
      this.#onIdle?.();
    }
  }

  get writeQueueBytes(): number {
    return this.#socket.writableLength;
  }

  get closed(): boolean {
    return this.#closed;
  }

  get peerEnded(): boolean {
    return this.#peerEnded;
  }

  write(data: Buffer | Uint8Array | string): boolean {
    const socket = this.#socket;
    if (this.#closed || socket.writableEnded) return false;
    if (this.#metrics) this.#metrics.bytesOut += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    this.active = true;
    let queued: number;
    if (experiment.coalesce) {
      this.#pending.push(data);
      this.#pendingBytes += typeof data === 'string' ? Buffer.byteLength(data) : data.length;
      if (this.#pending.length === 1) {
        connectionsToFlush.add(this);
        if (!flushScheduled) {
          flushScheduled = true;
          setImmediate(flushAll);
        }
      }
      queued = socket.writableLength + this.#pendingBytes;
    } else {
      socket.write(data);
      queued = socket.writableLength;
    }
    if (queued > this.#limits.writeHighWaterBytes) {
      if (queued > this.#limits.maxWriteQueueBytes) {
        if (this.#metrics) this.#metrics.errors++;
        this.#logger?.info({ connection: this.id, peer: this.remoteAddress, queued }, 'peer is not reading; disconnecting');
        this.destroy(new WharfError('EWRITEQUEUE', `peer is not reading (${queued} bytes queued)`));
        return false;
      }
      if (!this.#pausedByBackPressure) {
        this.#pausedByBackPressure = true;
        socket.pause();
      }
      return false;
    }
    return true;
  }

  /** EXPERIMENT (coalesce): give this turn's chunks to the socket: one write, or one writev. */
  flushPending(): void {
    const chunks = this.#pending;
    if (chunks.length === 0) return;
    this.#pending = [];
    this.#pendingBytes = 0;
    const socket = this.#socket;
    if (this.#closed || socket.destroyed || socket.writableEnded) return;
    if (chunks.length === 1) {
      socket.write(chunks[0]!);
      return;
    }
    socket.cork();
    for (const chunk of chunks) socket.write(chunk);
    socket.uncork();
  }

  end(data?: Buffer | Uint8Array | string): void {
    if (this.#closed) return;
    if (data !== undefined) this.write(data);
    this.flushPending();
    this.#socket.end();
  }

  destroy(error?: Error): void {
    if (this.#closed) return;
    if (error) this.#closeError ??= error;
    this.#socket.destroy();
  }

  pauseReading(): void {
    this.#pausedByHandler = true;
    this.#socket.pause();
  }

  resumeReading(): void {
    this.#pausedByHandler = false;
    if (!this.#pausedByBackPressure && !this.#closed) this.#socket.resume();
  }

  setIdleTimeout(ms: number): void {
    if (experiment.idleTimer === 'sweep') {
      this.#idleMs = ms;
      this.#lastActive = Date.now();
      if (ms > 0 && !this.#closed) sweeper.add(this);
      else sweeper.delete(this);
      return;
    }
    if (ms > 0 || this.#socket.timeout) this.#socket.setTimeout(ms);
  }

  /** The server is going down: let the handler say goodbye, or end once writes are flushed. */
  shutdown(): void {
    if (this.#closed) return;
    const handler = this.handler;
    if (handler?.shutdown) {
      try {
        handler.shutdown();
      } catch (error) {
        this.#handlerFailed(error);
      }
    } else {
      this.end();
    }
  }

  #handlerFailed(error: unknown): void {
    if (this.#metrics) this.#metrics.errors++;
    if (error instanceof WharfError || error instanceof CodecError) {
      // A peer's mistake (bad framing, a refused request): one line, no stack trace.
      this.#logger?.info({ connection: this.id, peer: this.remoteAddress, code: error.code }, error.message);
    } else {
      this.#logger?.error({ err: error, connection: this.id, peer: this.remoteAddress }, 'handler threw; closing this connection');
    }
    this.destroy(error instanceof Error ? error : new Error(String(error)));
  }
}

/** `::ffff:127.0.0.1` → `127.0.0.1`, so per-IP limits count one client once. */
export function normaliseAddress(address: string): string {
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
