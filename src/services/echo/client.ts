import type { Socket } from 'node:net';
import { closeStream, connectStream, DatagramClient } from '../../core/client.js';
import { WharfError } from '../../core/errors.js';
import { LineDecoder } from '../../codec/index.js';

export interface EchoClientOptions {
  host?: string;
  port?: number;
  /** How long to wait for an answer. Default 5,000 ms. */
  timeoutMs?: number;
}

/**
 * A TCP echo client: each `send` writes one line and resolves with the answer line. Lines make
 * the exchange well defined whatever TCP does with the bytes (the seed's recv(1024) hoped for the best).
 */
export class EchoClient {
  readonly #socket: Socket;
  readonly #lines = new LineDecoder({ maxLineBytes: 16 * 1024 * 1024, output: 'string' });
  readonly #waiting: Array<{ resolve: (line: string) => void; reject: (error: Error) => void }> = [];
  readonly #timeoutMs: number;
  #failure: Error | undefined;

  private constructor(socket: Socket, timeoutMs: number) {
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    socket.on('data', (chunk: Buffer) => {
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
    return new EchoClient(socket, options.timeoutMs ?? 5_000);
  }

  send(text: string): Promise<string> {
    if (this.#failure) return Promise.reject(this.#failure);
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
      this.#socket.write(`${text}\n`);
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
