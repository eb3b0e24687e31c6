import net from 'node:net';
import tls from 'node:tls';
import { closeStream } from '../../core/client.js';
import { LengthPrefixDecoder, LengthPrefixEncoder } from '../../codec/index.js';
import { WharfError, type WharfErrorCode } from '../../core/errors.js';
import {
  FRAME_CONTROL,
  FRAME_STDERR,
  FRAME_STDOUT,
  MAX_REPLY_FRAME_BYTES,
  controlBody,
  type ClientMessage,
  type CommandInfo,
  type ExitStatus,
  type HistoryRow,
  type ServerMessage,
  type ErrorCode,
} from './protocol.js';

export interface ExecClientOptions {
  host: string;
  port: number;
  /** Speak TLS; `ca` adds a certificate authority (a self-signed server's own certificate). */
  tls?: { ca?: Buffer; rejectUnauthorized?: boolean };
  timeoutMs?: number;
}

export interface RunHandlers {
  stdout(chunk: Buffer): void;
  stderr(chunk: Buffer): void;
}

const encoder = new LengthPrefixEncoder({ lengthBytes: 4, maxFrameBytes: 0xffffffff });

/** A client of wharf's exec protocol: log in, list, run with streamed output, cancel, history. */
/** The exec protocol's refusals as wharf error codes (every protocol code must have one). */
const WHARF_CODE_OF: Record<ErrorCode, WharfErrorCode> = {
  'login-required': 'EAUTH',
  'login-failed': 'ELOGIN',
  'not-allowed': 'EFORBIDDEN',
  'no-such-command': 'EMISSING',
  'bad-arguments': 'EBADVALUE',
  busy: 'EOVERLOAD',
  'bad-request': 'EPROTOCOL',
  'spawn-failed': 'ESERVER',
};

export class ExecClient {
  readonly #socket: net.Socket;
  readonly #replies: ServerMessage[] = [];
  #waiter: ((message: ServerMessage | undefined) => void) | undefined;
  #handlers: RunHandlers | undefined;
  #closed = false;
  #error: Error | undefined;

  private constructor(socket: net.Socket) {
    this.#socket = socket;
    const decoder = new LengthPrefixDecoder({ lengthBytes: 4, maxFrameBytes: MAX_REPLY_FRAME_BYTES });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, (frame) => this.#frame(frame));
      } catch (error) {
        this.#error = error as Error;
        socket.destroy();
      }
    });
    socket.on('error', (error) => {
      this.#error = error;
    });
    socket.on('close', () => {
      this.#closed = true;
      this.#waiter?.(undefined);
    });
  }

  static async connect(options: ExecClientOptions): Promise<ExecClient> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new WharfError('EDEADLINE', `no answer from ${options.host}:${options.port}`));
      }, options.timeoutMs ?? 10_000);
      const socket = options.tls
        ? tls.connect({ host: options.host, port: options.port, servername: net.isIP(options.host) ? undefined : options.host, ...options.tls }, () => done())
        : net.connect({ host: options.host, port: options.port }, () => done());
      const done = () => {
        clearTimeout(timer);
        socket.off('error', failed);
        resolve(socket);
      };
      const failed = (error: Error) => {
        clearTimeout(timer);
        reject(new WharfError('ECONNECT', `cannot reach ${options.host}:${options.port}: ${(error as NodeJS.ErrnoException).code ?? error.message}`));
      };
      socket.once('error', failed);
    });
    socket.setNoDelay(true);
    return new ExecClient(socket);
  }

  #frame(frame: Buffer): void {
    const kind = frame[0];
    if (kind === FRAME_STDOUT) return this.#handlers?.stdout(frame.subarray(1));
    if (kind === FRAME_STDERR) return this.#handlers?.stderr(frame.subarray(1));
    if (kind !== FRAME_CONTROL) return;
    const message = JSON.parse(frame.subarray(1).toString('utf8')) as ServerMessage;
    const waiter = this.#waiter;
    if (waiter) {
      this.#waiter = undefined;
      waiter(message);
    } else this.#replies.push(message);
  }

  #send(message: ClientMessage): void {
    this.#socket.write(encoder.encode(controlBody(message)));
  }

  #next(): Promise<ServerMessage> {
    const queued = this.#replies.shift();
    if (queued) return Promise.resolve(queued);
    if (this.#closed) return Promise.reject(this.#gone());
    return new Promise((resolve, reject) => {
      this.#waiter = (message) => (message ? resolve(message) : reject(this.#gone()));
    });
  }

  #gone(): WharfError {
    return new WharfError('ECLOSED', `the server closed the connection${this.#error ? ` (${this.#error.message})` : ''}`);
  }

  async #expect<T extends ServerMessage['t']>(type: T): Promise<Extract<ServerMessage, { t: T }>> {
    const message = await this.#next();
    if (message.t === 'error') throw new WharfError(WHARF_CODE_OF[message.code], message.message);
    if (message.t !== type) throw new WharfError('EPROTOCOL', `expected ${type}, got ${message.t}`);
    return message as Extract<ServerMessage, { t: T }>;
  }

  async login(user: string, password: string): Promise<void> {
    this.#send({ t: 'login', user, password });
    await this.#expect('ok');
  }

  async list(): Promise<CommandInfo[]> {
    this.#send({ t: 'list' });
    return (await this.#expect('commands')).commands;
  }

  async history(limit = 50): Promise<HistoryRow[]> {
    this.#send({ t: 'history', limit });
    return (await this.#expect('history')).rows;
  }

  /** Run a command; output streams to `handlers` as it comes; resolves with how it ended. */
  async run(command: string, args: readonly string[], handlers: RunHandlers): Promise<ExitStatus> {
    this.#handlers = handlers;
    try {
      this.#send({ t: 'run', command, args: [...args] });
      await this.#expect('started');
      const { t: _t, ...status } = await this.#expect('exit');
      return status;
    } finally {
      this.#handlers = undefined;
    }
  }

  /** Ask the server to kill the running command (and its process group). */
  cancel(): void {
    if (!this.#closed) this.#send({ t: 'cancel' });
  }

  /** Ends the connection; resolves when it is closed. */
  async close(): Promise<void> {
    await closeStream(this.#socket, 'end');
  }
}
