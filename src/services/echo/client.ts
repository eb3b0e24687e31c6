import type { Socket } from 'node:net';
import { StringDecoder } from 'node:string_decoder';
import { closeStream, connectStream, DatagramClient } from '../../core/client.js';
import { WharfError } from '../../core/errors.js';
import { LineDecoder } from '../../codec/index.js';

export interface EchoClientOptions {
  host?: string;
  port?: number;
  /** How long to wait for an answer. Default 5,000 ms. */
  timeoutMs?: number;
  /**
   * `line` (default): send each text with a line end, an answer is one line. `raw`: what the
   * seeds' clients do, for servers that answer without a line end (`ok`, `Thanks`): send the text
   * as it is, an answer is whatever one read brings (their recv(1024)).
   */
  framing?: 'line' | 'raw';
}

const MAX_ANSWER_BYTES = 16 * 1024 * 1024;

/**
 * A TCP echo client: each `send` writes one line and resolves with the answer line. Lines make
 * the exchange well defined whatever TCP does with the bytes (the seed's recv(1024) hoped for the
 * best); `framing: 'raw'` does what the seeds do, for their servers, which answer without a line end.
 */
export class EchoClient {
  readonly #socket: Socket;
  readonly #lines = new LineDecoder({ maxLineBytes: MAX_ANSWER_BYTES, output: 'string' });
  readonly #waiting: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = [];
  readonly #timeoutMs: number;
  readonly #raw: StringDecoder | undefined;
  /** Raw framing: what arrived while nothing was asked, the next answer (as the next recv() would return it). */
  #unread = '';
  #failure: Error | undefined;

  private constructor(socket: Socket, timeoutMs: number, framing: 'line' | 'raw') {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#raw = framing === 'raw' ? new StringDecoder('utf8') : undefined;
    socket.on('data', (chunk: Buffer) => {
      if (this.#raw) {
        const text = this.#unread + this.#raw.write(chunk);
        const waiter = this.#waiting.shift();
        this.#unread = waiter ? '' : text;
        waiter?.resolve(text);
        // A server that talks without being asked is held to what one answer may be.
        if (this.#unread.length > MAX_ANSWER_BYTES) this.#socket.destroy(new WharfError('EPROTOCOL', 'the server sent more than 16 MiB that nobody asked for'));
        return;
      }
      try {
        this.#lines.push(chunk, (line) => this.#waiting.shift()?.resolve(line));
      } catch (error) {
        this.#fail(error as Error);
      }
    });
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new WharfError('ECLOSED', 'the server closed the connection')));
  }

  static async connect(options: EchoClientOptions = {}): Promise<EchoClient> {
    const socket = await connectStream({ host: options.host ?? '127.0.0.1', port: options.port ?? 7007 });
    return new EchoClient(socket, options.timeoutMs ?? 5_000, options.framing ?? 'line');
  }

  /** Send `text`, resolve with the answer. */
  send(text: string): Promise<string> {
    return this.#answer(this.#raw ? text : `${text}\n`);
  }

  /** The next message without sending anything: a server's greeting (seed 002's `hello...`). */
  receive(): Promise<string> {
    return this.#answer(undefined);
  }

  #answer(text: string | undefined): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
    if (this.#unread !== '') {
      const unread = this.#unread;
      this.#unread = '';
      if (text !== undefined) this.#socket.write(text);
      return Promise.resolve(unread);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new WharfError('EDEADLINE', `no answer within ${this.#timeoutMs} ms`));
        this.#socket.destroy();
      }, this.#timeoutMs);
      this.#waiting.push({
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      if (text !== undefined) this.#socket.write(text);
    });
  }

  /** Ends the connection; resolves when it is closed. */
  async close(): Promise<void> {
    await closeStream(this.#socket, 'end');
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#waiting.splice(0)) waiter.reject(this.#failure);
  }
}

/** One UDP exchange: send `text` as a datagram, resolve with the answer (resent up to 3 times). */
export async function echoOverUdp(text: string, options: EchoClientOptions = {}): Promise<string> {
  const client = await DatagramClient.open(options.host ?? '127.0.0.1', options.port ?? 7007);
  try {
    const answer = await client.request(text, { timeoutMs: Math.max(200, Math.floor((options.timeoutMs ?? 3_000) / 3)), attempts: 3 });
    return answer.toString('utf8');
  } finally {
    await client.close();
  }
}
