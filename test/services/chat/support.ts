import dgram from 'node:dgram';
import net from 'node:net';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LengthPrefixDecoder } from '../../../src/codec/index.js';
import { silentLogger, type Logger } from '../../../src/core/logger.js';
import { ServiceMetrics } from '../../../src/core/metrics.js';
import type { ServiceContext } from '../../../src/core/service.js';
import { encodeFrame, type ClientFrame } from '../../../src/services/chat/protocol.js';
import { chatConfigSchema, startChat, type ChatStartOptions, type RunningChat } from '../../../src/services/chat/server.js';

export function chatContext(resources: Record<string, unknown> = {}): ServiceContext {
  return {
    logger: silentLogger(),
    metrics: new ServiceMetrics('chat'),
    dataDir: mkdtempSync(join(tmpdir(), 'wharf-chat-')),
    signal: new AbortController().signal,
    resources,
    console: false,
  };
}

export interface StartedChat {
  chat: RunningChat;
  udp: number;
  tcp: number;
  ctx: ServiceContext;
}

const running: RunningChat[] = [];

/**
 * Start a chat on port 0 (UDP and TCP); stopped by `stopAllChats`. WHARF_TEST_CHAT_UDP_SEND=inline
 * runs the suite with the one-call-per-datagram UDP sender instead of the batching worker.
 */
export async function startTestChat(overrides: Record<string, unknown> = {}, options: ChatStartOptions & { resources?: Record<string, unknown>; logger?: Logger } = {}): Promise<StartedChat> {
  const ctx = chatContext(options.resources);
  if (options.logger) ctx.logger = options.logger;
  const udpSend = process.env.WHARF_TEST_CHAT_UDP_SEND;
  const config = chatConfigSchema.parse({ port: 0, tcpPort: 0, console: 'off', ...(udpSend ? { udpSend } : {}), ...overrides });
  const chat = await startChat(ctx, config, options);
  running.push(chat);
  return {
    chat,
    ctx,
    udp: chat.addresses.find((a) => a.transport === 'udp')?.port ?? 0,
    tcp: chat.addresses.find((a) => a.transport === 'tcp')?.port ?? 0,
  };
}

export async function stopAllChats(): Promise<void> {
  await Promise.all(running.splice(0).map((chat) => chat.stop(200)));
}

/** A seed-protocol peer: one UDP socket, every datagram it receives kept as a line. */
export class SeedPeer {
  readonly lines: string[] = [];
  readonly #waiters = new Set<() => void>();
  private constructor(
    readonly socket: dgram.Socket,
    readonly serverPort: number,
  ) {
    socket.on('message', (message) => {
      this.lines.push(message.toString('utf8'));
      for (const waiter of this.#waiters) waiter();
    });
  }

  static async open(serverPort: number): Promise<SeedPeer> {
    const socket = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
    return new SeedPeer(socket, serverPort);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: string | Buffer): void {
    this.socket.send(data, this.serverPort, '127.0.0.1');
  }

  /** Send `L name` and resolve with the answer (OK or FAIL). */
  async login(name: string): Promise<string> {
    const from = this.lines.length;
    this.send(`L ${name}`);
    await this.waitFor((lines) => lines.slice(from).some((l) => l === 'OK' || l === 'FAIL'), 5_000, `answer to L ${name}`);
    return this.lines.slice(from).find((l) => l === 'OK' || l === 'FAIL')!;
  }

  /** Wait until `predicate(lines)` holds. */
  waitFor(predicate: (lines: string[]) => boolean, timeoutMs = 5_000, what = 'lines'): Promise<void> {
    if (predicate(this.lines)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate(this.lines)) {
          clearTimeout(timer);
          this.#waiters.delete(check);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.lines.slice(-10))}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  waitForLine(line: string, timeoutMs = 5_000): Promise<void> {
    return this.waitFor((lines) => lines.includes(line), timeoutMs, JSON.stringify(line));
  }

  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A raw wharf-protocol connection: frames in, decoded JSON objects out. */
export class RawChat {
  readonly frames: Array<Record<string, unknown>> = [];
  readonly #waiters = new Set<() => void>();
  closed = false;
  private constructor(readonly socket: net.Socket) {
    const decoder = new LengthPrefixDecoder({ lengthBytes: 4, maxFrameBytes: 16 * 1024 * 1024 });
    socket.on('data', (chunk: Buffer) => {
      decoder.push(chunk, (body) => this.frames.push(JSON.parse(body.toString('utf8')) as Record<string, unknown>));
      for (const waiter of this.#waiters) waiter();
    });
    socket.on('error', () => {});
    socket.on('close', () => {
      this.closed = true;
      for (const waiter of this.#waiters) waiter();
    });
  }

  static async connect(port: number): Promise<RawChat> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawChat(socket);
  }

  send(frame: ClientFrame | Record<string, unknown>): void {
    this.socket.write(encodeFrame(frame as ClientFrame));
  }

  sendRaw(bytes: Buffer): void {
    this.socket.write(bytes);
  }

  of(type: string): Array<Record<string, unknown>> {
    return this.frames.filter((f) => f.type === type);
  }

  waitFor(predicate: (frames: Array<Record<string, unknown>>) => boolean, timeoutMs = 5_000, what = 'frames'): Promise<void> {
    if (predicate(this.frames)) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const check = () => {
        if (predicate(this.frames)) {
          clearTimeout(timer);
          this.#waiters.delete(check);
          resolve();
        }
      };
      const timer = setTimeout(() => {
        this.#waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  waitClosed(timeoutMs = 5_000): Promise<void> {
    return this.waitFor(() => this.closed, timeoutMs, 'close');
  }

  close(): void {
    this.socket.destroy();
  }
}
