import type { Socket } from 'node:net';
import { closeStream, connectStream } from '../../core/client.js';
import { WharfError } from '../../core/errors.js';
import { LineDecoder } from '../../codec/index.js';
import {
  Code,
  definitionsOf,
  encodeSaslPlain,
  pairsOf,
  parseHistoryLine,
  quoteArgument,
  ResponseReader,
  type DefinitionReply,
  type HistoryLine,
  type Response,
  type TextReply,
} from './protocol.js';

export interface DictClientOptions {
  host?: string;
  port?: number;
  /** How long to wait for each answer. Default 10,000 ms. */
  timeoutMs?: number;
  /** Sent with CLIENT after the greeting (default `wharf`); null sends nothing. */
  clientName?: string | null;
}

/** A DICT answer that is an error (5yz, 4yz), or a status the call did not expect. */
export class DictError extends WharfError {
  readonly status: number;
  constructor(status: number, text: string) {
    super(status === Code.INVALID_DATABASE ? 'ENODB' : status === Code.INVALID_STRATEGY ? 'ENOSTRAT' : 'EDICT', `${status} ${text}`);
    this.name = 'DictError';
    this.status = status;
  }
}

export interface MatchResult {
  database: string;
  word: string;
}

export interface NameAndDescription {
  name: string;
  description: string;
}

interface Waiter {
  resolve(response: Response): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

/**
 * A DICT client (RFC 2229) for programs and for `wharf dict`: each call sends one command and
 * resolves with its parsed answer. Calls may be made without awaiting the previous one: the
 * commands are pipelined and the answers matched to them in order.
 */
export class DictClient {
  readonly banner: { text: string; capabilities: string[]; msgId: string };
  readonly #socket: Socket;
  readonly #reader = new ResponseReader();
  readonly #waiting: Waiter[] = [];
  readonly #timeoutMs: number;
  #failure: Error | undefined;

  private constructor(socket: Socket, banner: DictClient['banner'], timeoutMs: number, decoder: LineDecoder, pending: string[]) {
    this.#socket = socket;
    this.banner = banner;
    this.#timeoutMs = timeoutMs;
    const onLine = (line: string) => {
      let response: Response | undefined;
      try {
        response = this.#reader.push(line);
      } catch (error) {
        this.#fail(new WharfError('EPROTOCOL', (error as Error).message));
        socket.destroy();
        return;
      }
      if (response) {
        const waiter = this.#waiting.shift();
        if (waiter) {
          clearTimeout(waiter.timer);
          waiter.resolve(response);
        }
      }
    };
    for (const line of pending) onLine(line);
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, onLine);
      } catch (error) {
        this.#fail(new WharfError('EPROTOCOL', (error as Error).message));
        socket.destroy();
      }
    });
    socket.on('error', (error) => this.#fail(error));
    socket.on('close', () => this.#fail(new WharfError('ECLOSED', 'the server closed the connection')));
  }

  static async connect(options: DictClientOptions = {}): Promise<DictClient> {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 2628;
    const timeoutMs = options.timeoutMs ?? 10_000;
    const socket = await connectStream({ host, port }, { timeoutMs });
    const decoder = new LineDecoder({ maxLineBytes: 16 * 1024 * 1024, output: 'string' });
    const lines: string[] = [];
    const greeting = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        socket.destroy();
        reject(new WharfError('EDEADLINE', `no greeting from ${host}:${port} within ${timeoutMs} ms`));
      }, timeoutMs);
      const onData = (chunk: Buffer) => {
        decoder.push(chunk, (line) => lines.push(line));
        if (lines.length > 0) {
          cleanup();
          resolve(lines.shift()!);
        }
      };
      const onEnd = () => {
        cleanup();
        reject(new WharfError('ECLOSED', `${host}:${port} closed the connection without a greeting`));
      };
      const cleanup = () => {
        clearTimeout(timer);
        socket.off('data', onData);
        socket.off('close', onEnd);
        socket.off('error', onEnd);
      };
      socket.on('data', onData);
      socket.on('close', onEnd);
      socket.on('error', onEnd);
    });
    const banner = ResponseReader.banner(greeting);
    if (!banner || banner.status.code !== Code.HELLO) {
      socket.destroy();
      throw new DictError(banner?.status.code ?? 0, banner?.status.text ?? `not a DICT server: ${greeting.slice(0, 80)}`);
    }
    const client = new DictClient(socket, { text: banner.status.text, capabilities: banner.capabilities, msgId: banner.msgId }, timeoutMs, decoder, lines);
    const name = options.clientName === undefined ? 'wharf' : options.clientName;
    if (name !== null) await client.command(`CLIENT ${quoteArgument(name)}`);
    return client;
  }

  /** Send one raw command line; resolves with everything up to its final status line. */
  command(line: string): Promise<Response> {
    if (/[\r\n]/.test(line)) return Promise.reject(new WharfError('EBADVALUE', 'a DICT command is one line'));
    if (this.#failure) return Promise.reject(this.#failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        reject(new WharfError('EDEADLINE', `no answer within ${this.#timeoutMs} ms`));
        this.#socket.destroy();
      }, this.#timeoutMs);
      this.#waiting.push({ resolve, reject, timer });
      this.#socket.write(`${line}\r\n`);
    });
  }

  /** Definitions of `word` in `database` (`*`: every database, `!`: the first that has it); [] for none. */
  async define(word: string, database = '*'): Promise<DefinitionReply[]> {
    const response = await this.command(`DEFINE ${quoteArgument(database)} ${quoteArgument(word)}`);
    if (response.final.code === Code.NO_MATCH) return [];
    expect(response, Code.OK);
    return definitionsOf(response);
  }

  /** Headwords matching `word` with `strategy` (`.`: the server's default); [] for none. */
  async match(word: string, options: { database?: string; strategy?: string } = {}): Promise<MatchResult[]> {
    const response = await this.command(`MATCH ${quoteArgument(options.database ?? '*')} ${quoteArgument(options.strategy ?? '.')} ${quoteArgument(word)}`);
    if (response.final.code === Code.NO_MATCH) return [];
    expect(response, Code.OK);
    return pairsOf(textOf(response, Code.MATCHES_FOUND)).map((p) => ({ database: p.name, word: p.value }));
  }

  async databases(): Promise<NameAndDescription[]> {
    const response = await this.command('SHOW DB');
    if (response.final.code === Code.NO_DATABASES) return [];
    expect(response, Code.OK);
    return pairsOf(textOf(response, Code.DATABASES_PRESENT)).map((p) => ({ name: p.name, description: p.value }));
  }

  async strategies(): Promise<NameAndDescription[]> {
    const response = await this.command('SHOW STRAT');
    if (response.final.code === Code.NO_STRATEGIES) return [];
    expect(response, Code.OK);
    return pairsOf(textOf(response, Code.STRATEGIES_AVAILABLE)).map((p) => ({ name: p.name, description: p.value }));
  }

  async info(database: string): Promise<string> {
    const response = await this.command(`SHOW INFO ${quoteArgument(database)}`);
    expect(response, Code.OK);
    return textOf(response, Code.DATABASE_INFO).lines.join('\n');
  }

  async serverInfo(): Promise<string> {
    const response = await this.command('SHOW SERVER');
    expect(response, Code.OK);
    return textOf(response, Code.SERVER_INFO).lines.join('\n');
  }

  async status(): Promise<string> {
    const response = await this.command('STATUS');
    expect(response, Code.STATUS);
    return response.final.text;
  }

  async help(): Promise<string> {
    const response = await this.command('HELP');
    expect(response, Code.OK);
    return textOf(response, Code.HELP).lines.join('\n');
  }

  /** Log in with a wharf account (SASLAUTH PLAIN). False when the server says no (531). */
  async login(user: string, password: string): Promise<boolean> {
    const response = await this.command(`SASLAUTH PLAIN ${encodeSaslPlain(user, password)}`);
    if (response.final.code === Code.AUTH_DENIED) return false;
    expect(response, Code.AUTH_OK);
    return true;
  }

  /** Create an account (XREGISTER). Throws DictError with the server's reason when refused. */
  async register(user: string, password: string): Promise<void> {
    expect(await this.command(`XREGISTER ${quoteArgument(user)} ${quoteArgument(password)}`), Code.OK);
  }

  /** The logged-in account's latest lookups, newest first (XHISTORY). */
  async history(count?: number): Promise<HistoryLine[]> {
    const response = await this.command(count === undefined ? 'XHISTORY' : `XHISTORY ${count}`);
    expect(response, Code.OK);
    return textOf(response, Code.HISTORY)
      .lines.map(parseHistoryLine)
      .filter((line): line is HistoryLine => line !== undefined);
  }

  async logout(): Promise<void> {
    expect(await this.command('XLOGOUT'), Code.OK);
  }

  /** QUIT, then close. */
  async quit(): Promise<void> {
    if (!this.#failure) {
      try {
        await this.command('QUIT');
      } catch {
        // closing anyway
      }
    }
    await this.close();
  }

  /** Closes the connection at once (use `quit` first for a polite goodbye); resolves when it is closed. */
  async close(): Promise<void> {
    await closeStream(this.#socket, 'destroy');
  }

  #fail(error: Error): void {
    this.#failure ??= error;
    for (const waiter of this.#waiting.splice(0)) {
      clearTimeout(waiter.timer);
      waiter.reject(this.#failure);
    }
  }
}

function expect(response: Response, code: number): void {
  if (response.final.code !== code) throw new DictError(response.final.code, response.final.text);
}

function textOf(response: Response, code: number): TextReply {
  const reply = response.preliminary.find((r): r is TextReply => r.code === code && 'lines' in r);
  if (!reply) throw new DictError(response.final.code, `expected a ${code} answer, got ${response.preliminary.map((r) => r.code).join(', ') || 'none'}`);
  return reply;
}
