/**
 * What the sessions of seed 000's and seed 001's file protocols share: one account's home (the
 * seeds have no login), the client's bytes handled one chunk at a time and in order
 * (SerialReader), and an upload in progress dropped when the client goes before it ends (neither
 * seed can resume).
 */
import type { Connection, StreamHandler } from '../../core/connection.js';
import type { Home } from './files.js';
import { describeFailure, type SeedFilesContext, type SeedUpload } from './seed-files.js';
import { SerialReader } from './seed-stream.js';

export interface SeedHomeContext extends SeedFilesContext {
  /** The account whose home this front end serves. */
  account: string;
  writeHighWaterBytes: number;
}

/** How much of a file is read at a time to send it. */
export const READ_CHUNK_BYTES = 64 * 1024;

export abstract class SeedHomeSession<C extends SeedHomeContext> implements StreamHandler {
  protected readonly connection: Connection;
  protected readonly ctx: C;
  protected readonly home: Home;
  protected upload: SeedUpload | undefined;
  readonly #reader: SerialReader;
  /** `seed-000` or `seed-001`, for the log. */
  readonly #protocol: string;

  constructor(protocol: string, connection: Connection, ctx: C, home: Home) {
    this.#protocol = protocol;
    this.connection = connection;
    this.ctx = ctx;
    this.home = home;
    this.#reader = new SerialReader(connection, (chunk) => this.handle(chunk), (error) => this.failed(error));
  }

  data(chunk: Buffer): void {
    this.#reader.push(chunk);
  }

  close(): void {
    // A client gone mid-upload (once what it sent before closing is written): its bytes go.
    void this.#reader.drained().then(() => this.abandon());
  }

  /** One chunk of the client's bytes; the next waits until this resolves. */
  protected abstract handle(chunk: Buffer): Promise<void>;

  /** `handle` threw: the connection closes. */
  protected abstract failed(error: unknown): void;

  protected async abandon(): Promise<void> {
    const upload = this.upload;
    this.upload = undefined;
    await upload?.abandon();
  }

  protected log(what: string): void {
    const peer = this.connection.remoteAddress;
    this.ctx.logger.info({ peer, account: this.ctx.account }, `${this.#protocol} ${peer} ${what}`);
  }

  /** Why the connection closes: INFO for the peer's mistake, WARN for the server's trouble. */
  protected logClosing(error: unknown, peerMistake: boolean): void {
    const peer = this.connection.remoteAddress;
    const why = describeFailure(error);
    this.ctx.logger[peerMistake ? 'info' : 'warn']({ peer, err: why }, `${this.#protocol} ${peer}: closing: ${why}`);
  }
}
