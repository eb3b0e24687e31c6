import type { Connection, StreamHandler } from '../core/connection.js';

/**
 * An in-memory Connection (Twisted's StringTransport, Netty's EmbeddedChannel): it records what
 * the protocol writes and lets a test play the peer, byte by byte, with no socket involved.
 */
export class MemoryConnection implements Connection {
  readonly id = 0;
  remoteAddress = '127.0.0.1';
  remotePort = 40000;
  localAddress = '127.0.0.1';
  localPort = 7;
  readonly chunks: Buffer[] = [];
  ended = false;
  destroyed = false;
  destroyError: Error | undefined;
  readingPaused = false;
  idleTimeoutMs = 0;
  /** What `write` returns: set false to simulate a peer that stopped reading. */
  writable = true;

  write(data: Buffer | Uint8Array | string): boolean {
    if (this.ended || this.destroyed) return false;
    this.chunks.push(typeof data === 'string' ? Buffer.from(data) : Buffer.from(data));
    return this.writable;
  }

  end(data?: Buffer | Uint8Array | string): void {
    if (data !== undefined) this.write(data);
    this.ended = true;
  }

  destroy(error?: Error): void {
    this.destroyed = true;
    this.destroyError = error;
  }

  pauseReading(): void {
    this.readingPaused = true;
  }

  resumeReading(): void {
    this.readingPaused = false;
  }

  setIdleTimeout(ms: number): void {
    this.idleTimeoutMs = ms;
  }

  get writeQueueBytes(): number {
    return 0;
  }

  get closed(): boolean {
    return this.ended || this.destroyed;
  }

  /** Everything written so far, as one buffer. */
  output(): Buffer {
    return Buffer.concat(this.chunks);
  }

  /** Everything written so far as UTF-8, and forget it (so each step asserts on its own reply). */
  take(): string {
    const text = this.output().toString('utf8');
    this.chunks.length = 0;
    return text;
  }
}

/** Drive a protocol's StreamHandler from a test: `receive` plays the peer, `connection` records the replies. */
export class ProtocolHarness {
  readonly connection = new MemoryConnection();
  readonly handler: StreamHandler;
  #closed = false;

  constructor(factory: (connection: Connection) => StreamHandler) {
    this.handler = factory(this.connection);
  }

  /** Deliver bytes as one TCP chunk. A string is UTF-8 encoded. */
  receive(data: Buffer | string): this {
    this.handler.data(typeof data === 'string' ? Buffer.from(data) : data);
    return this;
  }

  /** Deliver bytes one chunk per byte: the harshest split TCP can produce. */
  receiveBytewise(data: Buffer | string): this {
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    for (let i = 0; i < bytes.length; i++) this.handler.data(bytes.subarray(i, i + 1));
    return this;
  }

  /** The peer half-closes. */
  receiveEnd(): this {
    if (this.handler.end) this.handler.end();
    else this.connection.end();
    return this;
  }

  /** The connection goes away (peer reset, or after end). */
  close(error?: Error): void {
    if (this.#closed) return;
    this.#closed = true;
    this.handler.close?.(error);
  }

  take(): string {
    return this.connection.take();
  }
}
