/**
 * The chat's portal section on its own (test/helpers/portal-section.ts) beside its UDP and TCP
 * ports, and a WebSocket peer that keeps every message it gets, for the portal chat's tests.
 */
import WebSocket from 'ws';
import { PortalRegistry } from '../../../src/core/portal.js';
import { chatConfigSchema, startChat, type ChatStartOptions, type RunningChat } from '../../../src/services/chat/server.js';
import { serveSection, type SectionServer } from '../../helpers/portal-section.js';
import { chatContext } from './support.js';

export interface PortalChat {
  chat: RunningChat;
  section: SectionServer;
  udp: number;
  tcp: number;
  /** `ws://127.0.0.1:PORT/portal/api/chat/socket` */
  socketUrl: string;
  stop(): Promise<void>;
}

export async function startPortalChat(overrides: Record<string, unknown> = {}, options: ChatStartOptions & { user?: string; resources?: Record<string, unknown> } = {}): Promise<PortalChat> {
  const ctx = chatContext(options.resources);
  ctx.portal = new PortalRegistry();
  const config = chatConfigSchema.parse({ port: 0, tcpPort: 0, console: 'off', ...overrides });
  const chat = await startChat(ctx, config, options);
  const chatSection = ctx.portal.get('chat');
  if (!chatSection) throw new Error('the chat added no portal section');
  const section = await serveSection(chatSection, { name: options.user ?? 'alice', admin: false });
  return {
    chat,
    section,
    udp: chat.addresses.find((a) => a.transport === 'udp')?.port ?? 0,
    tcp: chat.addresses.find((a) => a.transport === 'tcp')?.port ?? 0,
    socketUrl: `${section.base.replace(/^http/, 'ws')}/socket`,
    async stop() {
      await chat.stop(200);
      await section.close();
    },
  };
}

export type Frame = Record<string, unknown> & { type: string };

/** A page's WebSocket, from Node: every message kept as parsed JSON, the close code kept. */
export class WsPeer {
  readonly frames: Frame[] = [];
  closeCode: number | undefined;
  closeReason = '';
  readonly #waiters = new Set<() => void>();

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      this.frames.push(isBinary ? { type: '(binary)' } : (JSON.parse(String(data)) as Frame));
      this.#wake();
    });
    ws.on('close', (code, reason) => {
      this.closeCode = code;
      this.closeReason = reason.toString();
      this.#wake();
    });
    ws.on('error', () => {});
  }

  static async open(url: string, options: WebSocket.ClientOptions = {}): Promise<WsPeer> {
    const ws = new WebSocket(url, { origin: new URL(url).origin.replace(/^ws/, 'http'), ...options });
    const peer = new WsPeer(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(new Error(`upgrade refused: ${res.statusCode}`)));
      ws.once('error', reject);
    });
    return peer;
  }

  /** Open, wait for `hello`, join `room` (with `since`), and wait for its `synced`. */
  static async joined(url: string, room = 'lobby', since?: number, options: WebSocket.ClientOptions = {}): Promise<WsPeer> {
    const peer = await WsPeer.open(url, options);
    await peer.waitFor((f) => f.some((m) => m.type === 'hello'), 'hello');
    await peer.join(room, since);
    return peer;
  }

  async join(room: string, since?: number): Promise<void> {
    const from = this.frames.length;
    this.send({ type: 'join', room, ...(since !== undefined ? { since } : {}) });
    await this.waitFor((f) => f.slice(from).some((m) => m.type === 'synced' && m.room === room), `synced in ${room}`);
  }

  send(message: unknown): void {
    this.ws.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  of(type: string): Frame[] {
    return this.frames.filter((f) => f.type === type);
  }

  /** The `msg` texts, in order. */
  texts(room?: string): string[] {
    return this.of('msg')
      .filter((m) => room === undefined || m.room === room)
      .map((m) => String(m.text));
  }

  waitFor(predicate: (frames: Frame[]) => boolean, what = 'messages', timeoutMs = 5_000): Promise<void> {
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
        reject(new Error(`timed out waiting for ${what}; got ${JSON.stringify(this.frames.slice(-6))} (closed: ${this.closeCode})`));
      }, timeoutMs);
      this.#waiters.add(check);
    });
  }

  waitClosed(timeoutMs = 5_000): Promise<void> {
    return this.waitFor(() => this.closeCode !== undefined, 'close', timeoutMs);
  }

  /** The connection drops (no close frame): as the network going away. */
  close(): void {
    this.ws.terminate();
  }

  /** The page leaves (close 1000), as a tab that is closed. */
  leave(): void {
    this.ws.close(1000, 'left');
  }

  #wake(): void {
    for (const waiter of this.#waiters) waiter();
  }
}
