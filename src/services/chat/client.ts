import { randomBytes } from 'node:crypto';
import { EventEmitter } from 'node:events';
import type { Socket } from 'node:net';
import { LengthPrefixDecoder } from '../../codec/index.js';
import { DatagramClient, connectStream } from '../../core/client.js';
import { WharfError, type WharfErrorCode } from '../../core/errors.js';
import {
  DEFAULT_MAX_SERVER_FRAME_BYTES,
  FRAME_LENGTH_BYTES,
  PROTOCOL_VERSION,
  SEED_OK,
  SequenceTracker,
  decodeServerFrame,
  encodeFrame,
  seedChat,
  seedExit,
  seedLogin,
  type ChatMessage,
  type ErrorCode,
  type ClientFrame,
  type MemberSummary,
  type ParsedServerFrame,
  type PresenceChange,
} from './protocol.js';

/** Why a chat request failed: the server's protocol code, or the client's own. */
export type ChatErrorCode = ErrorCode | 'bad-reply' | 'closed' | 'disconnected' | 'not-sent' | 'timeout';

const WHARF_CODE_OF: Record<ChatErrorCode, WharfErrorCode> = {
  'bad-request': 'EPROTOCOL',
  'bad-name': 'ENAME',
  'bad-room': 'EBADVALUE',
  'bad-text': 'EBADVALUE',
  'name-taken': 'ENAME',
  'name-reserved': 'ENAME',
  'auth-failed': 'ELOGIN',
  'not-joined': 'ENOTJOINED',
  'no-such-member': 'EMISSING',
  'rate-limited': 'ETHROTTLED',
  full: 'EOVERLOAD',
  unavailable: 'ESERVER',
  'bad-reply': 'EPROTOCOL',
  closed: 'ECLOSED',
  disconnected: 'ECLOSED',
  'not-sent': 'ECLOSED',
  timeout: 'EDEADLINE',
};

/** An error the chat server answered with (`chatCode` is the protocol's, e.g. `name-taken`; `code` wharf's). */
export class ChatError extends WharfError {
  /** A `ChatErrorCode`, or a code of a newer server's that this client does not know. */
  readonly chatCode: string;
  readonly retryAfterMs: number | undefined;
  constructor(chatCode: ChatErrorCode | (string & {}), message: string, retryAfterMs?: number) {
    super(Object.hasOwn(WHARF_CODE_OF, chatCode) ? WHARF_CODE_OF[chatCode as ChatErrorCode] : 'ESERVER', message);
    this.name = 'ChatError';
    this.chatCode = chatCode;
    this.retryAfterMs = retryAfterMs;
  }
}

export interface ChatClientOptions {
  host?: string;
  /** wharf's chat port (default 8001). */
  port?: number;
  name: string;
  room?: string;
  /** Log in with the wharf account `name` and this password. */
  password?: string;
  /** Connect again when the connection drops, and catch up (default true). */
  reconnect?: boolean;
  /** For a connection and for each request. Default 10,000 ms. */
  timeoutMs?: number;
  /** A ping this often; no answer within `timeoutMs` counts as a dropped connection. Default 30,000 ms. */
  pingIntervalMs?: number;
  maxFrameBytes?: number;
}

export interface WelcomeInfo {
  name: string;
  room: string;
  account: boolean;
  members: MemberSummary[];
}

export interface PresenceEvent {
  room: string;
  joined: PresenceChange[];
  left: PresenceChange[];
}

export interface PrivateMessage {
  from: string;
  to: string;
  text: string;
  time: number;
}

export interface ChatClientEvents {
  /** A room message, each once, in order (history first after a join). */
  message: [ChatMessage];
  presence: [PresenceEvent];
  private: [PrivateMessage];
  /** The catch-up after a join or a reconnect is complete; `gap` when older messages were left out. */
  synced: [{ room: string; lastSeq: number; gap: boolean }];
  /** The connection dropped; the client is trying to come back. */
  disconnected: [Error | undefined];
  reconnected: [WelcomeInfo];
  /** An error the server sent that no request is waiting for (e.g. a refused message). */
  problem: [ChatError];
  /** The client is finished: closed by `close()`, or the server refused it for good. */
  closed: [Error | undefined];
}

interface Waiter {
  resolve: (frame: ParsedServerFrame) => void;
  reject: (error: Error) => void;
  timer: NodeJS.Timeout;
  /** A `say`: a dropped connection does not fail it (it is sent again after the reconnect). */
  survivesDisconnect?: boolean;
}

interface Unacked {
  text: string;
  room: string;
  resolve: (message: ChatMessage) => void;
  reject: (error: Error) => void;
}

/**
 * A client of wharf's chat protocol. Attach listeners, then `connect()`: it resolves once the
 * room's recent history has been delivered as `message` events. If the connection drops, the
 * client reconnects, says the last sequence number it saw, and gets exactly the messages it
 * missed; `say` resolves when the room has numbered the message, and one said while the
 * connection was down is sent (once) when it is back.
 */
export class ChatClient extends EventEmitter<ChatClientEvents> {
  readonly #options: Required<Pick<ChatClientOptions, 'host' | 'port' | 'timeoutMs' | 'pingIntervalMs' | 'maxFrameBytes' | 'reconnect'>> & ChatClientOptions;
  readonly #tracker = new SequenceTracker();
  readonly #waiters = new Map<number, Waiter>();
  readonly #unacked = new Map<string, Unacked>();
  readonly #cidPrefix = randomBytes(6).toString('base64url');
  #cidCounter = 0;
  #nextId = 1;
  #socket: Socket | undefined;
  #token: string | undefined;
  #room: string;
  #name: string;
  #account = false;
  #connected = false;
  #closed = false;
  #everConnected = false;
  #pingTimer: NodeJS.Timeout | undefined;
  #reconnecting = false;

  constructor(options: ChatClientOptions) {
    super();
    this.#options = {
      host: '127.0.0.1',
      port: 8001,
      timeoutMs: 10_000,
      pingIntervalMs: 30_000,
      maxFrameBytes: DEFAULT_MAX_SERVER_FRAME_BYTES,
      reconnect: true,
      ...options,
    };
    this.#name = options.name.normalize('NFC');
    this.#room = (options.room ?? '').normalize('NFC');
  }

  /**
   * Create a client and connect it (the shape every wharf client has). `attach` adds listeners
   * first: the room's recent history arrives as `message` events while connecting. A client made
   * with `new` connects with the instance method `connect()`, which also returns the welcome.
   */
  static async connect(options: ChatClientOptions, attach?: (client: ChatClient) => void): Promise<ChatClient> {
    const client = new ChatClient(options);
    attach?.(client);
    await client.connect();
    return client;
  }

  get name(): string {
    return this.#name;
  }
  /** The room this client is in ('' before the first welcome when none was asked for). */
  get room(): string {
    return this.#room;
  }
  get account(): boolean {
    return this.#account;
  }
  get connected(): boolean {
    return this.#connected;
  }
  /** The last sequence number seen in `room` (what a reconnect asks to continue from). */
  lastSeq(room = this.#room): number | undefined {
    return this.#tracker.last(room);
  }

  /** Connect, say hello, and resolve once the catch-up is delivered. Rejects with a ChatError when refused. */
  async connect(): Promise<WelcomeInfo> {
    const welcome = await this.#open();
    this.#everConnected = true;
    return welcome;
  }

  async #open(): Promise<WelcomeInfo> {
    const socket = await connectStream({ host: this.#options.host, port: this.#options.port }, { timeoutMs: this.#options.timeoutMs });
    this.#attach(socket);
    const hello: ClientFrame = { type: 'hello', v: PROTOCOL_VERSION, name: this.#name };
    if (this.#room !== '') hello.room = this.#room;
    if (this.#options.password !== undefined) hello.password = this.#options.password;
    const since = this.#room === '' ? undefined : this.#tracker.last(this.#room);
    if (since !== undefined) hello.since = since;
    if (this.#token !== undefined) hello.resume = this.#token;
    // The catch-up and its `synced` may arrive in the same chunk as the welcome: listen first.
    const synced = this.#nextSynced();
    let welcome: ParsedServerFrame;
    try {
      welcome = await this.#request(hello, 'welcome');
      if (welcome.type !== 'welcome') throw new ChatError('bad-reply', 'unexpected answer to hello');
      this.#token = welcome.token;
      this.#room = welcome.room;
      this.#account = welcome.account;
      await synced.promise;
    } catch (error) {
      synced.cancel();
      socket.destroy();
      throw error;
    }
    this.#connected = true;
    this.#startPing();
    this.#resendUnacked();
    return { name: welcome.name, room: welcome.room, account: welcome.account, members: welcome.members };
  }

  /**
   * Say `text` once without joining, as scripts do (`wharf chat send`): a connection of its own,
   * one `post`, closed after the answer. The room hears no join and no leave. Use it instead of
   * `connect`, not after it; the client is closed afterwards.
   */
  async post(text: string): Promise<{ room: string; seq: number; time: number }> {
    const socket = await connectStream({ host: this.#options.host, port: this.#options.port }, { timeoutMs: this.#options.timeoutMs });
    this.#attach(socket);
    const frame: ClientFrame = { type: 'post', name: this.#name, text, cid: randomBytes(8).toString('hex') };
    if (this.#room !== '') frame.room = this.#room;
    if (this.#options.password !== undefined) frame.password = this.#options.password;
    try {
      const answer = await this.#request(frame, 'posted');
      if (answer.type !== 'posted') throw new ChatError('bad-reply', 'unexpected answer to post');
      return { room: answer.room, seq: answer.seq, time: answer.time };
    } finally {
      await this.close();
    }
  }

  /** Say `text` in the current room; resolves with the numbered message. */
  say(text: string): Promise<ChatMessage> {
    if (this.#closed) return Promise.reject(new ChatError('closed', 'the chat client is closed'));
    const cid = `${this.#cidPrefix}-${++this.#cidCounter}`;
    return new Promise((resolve, reject) => {
      this.#unacked.set(cid, { text, room: this.#room, resolve, reject });
      if (this.#connected) this.#sendSay(cid, text);
    });
  }

  #sendSay(cid: string, text: string): void {
    const id = this.#nextId++;
    // An error for this id (too long, rate limited) rejects the say; success is its own `msg` coming back.
    const timer = setTimeout(() => this.#waiters.delete(id), this.#options.timeoutMs);
    this.#waiters.set(id, {
      resolve: () => {},
      reject: (error) => {
        const pending = this.#unacked.get(cid);
        this.#unacked.delete(cid);
        pending?.reject(error);
      },
      timer,
      survivesDisconnect: true,
    });
    this.#write({ type: 'say', id, text, cid });
  }

  /** A private message; resolves when the server has delivered it (its copy comes back as `private`). */
  pm(to: string, text: string): Promise<void> {
    if (!this.#connected) return Promise.reject(new ChatError('disconnected', 'not connected to the chat server'));
    const target = to.normalize('NFC');
    const id = this.#nextId++;
    return new Promise<void>((resolve, reject) => {
      const finish = (error?: Error) => {
        clearTimeout(timer);
        this.#waiters.delete(id);
        this.off('private', onCopy);
        if (error) reject(error);
        else resolve();
      };
      const onCopy = (event: PrivateMessage) => {
        if (event.from === this.#name && event.to === target && event.text === text) finish();
      };
      const timer = setTimeout(() => finish(new ChatError('timeout', `no answer from the chat server within ${this.#options.timeoutMs} ms`)), this.#options.timeoutMs);
      this.#waiters.set(id, { resolve: () => finish(), reject: (error) => finish(error), timer });
      this.on('private', onCopy);
      this.#write({ type: 'pm', id, to: target, text });
    });
  }

  async who(): Promise<MemberSummary[]> {
    const frame = await this.#request({ type: 'who' }, 'members');
    return frame.type === 'members' ? frame.members : [];
  }

  /** Up to `limit` of the current room's latest messages (before `before`, when given). */
  async history(limit?: number, before?: number): Promise<{ messages: ChatMessage[]; complete: boolean }> {
    const request: ClientFrame = { type: 'history' };
    if (limit !== undefined) request.limit = limit;
    if (before !== undefined) request.before = before;
    const frame = await this.#request(request, 'history');
    return frame.type === 'history' ? { messages: frame.messages, complete: frame.complete } : { messages: [], complete: true };
  }

  /** Move to another room; resolves once its recent history is delivered. */
  async join(room: string): Promise<{ room: string; members: MemberSummary[] }> {
    const target = room.normalize('NFC');
    const request: ClientFrame = { type: 'join', room: target };
    const since = this.#tracker.last(target);
    if (since !== undefined) request.since = since;
    const synced = this.#nextSynced();
    let frame: ParsedServerFrame;
    try {
      frame = await this.#request(request, 'joined');
      if (frame.type !== 'joined') throw new ChatError('bad-reply', 'unexpected answer to join');
      this.#room = frame.room;
      await synced.promise;
    } catch (error) {
      synced.cancel();
      throw error;
    }
    return { room: frame.room, members: frame.members };
  }

  /** Leave the chat (others are told) and close. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#pingTimer);
    const socket = this.#socket;
    if (socket && !socket.destroyed && this.#connected) {
      socket.end(encodeFrame({ type: 'bye' }));
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          socket.destroy();
          resolve();
        }, 1_000);
        socket.once('close', () => {
          clearTimeout(timer);
          resolve();
        });
        socket.resume();
      });
    } else {
      socket?.destroy();
    }
    this.#failAll(new ChatError('closed', 'the chat client is closed'));
    this.emit('closed', undefined);
  }

  /** Drop the connection as a network failure would (tests: the client reconnects and catches up). */
  dropConnection(): void {
    this.#socket?.destroy();
  }

  // -- internals --------------------------------------------------------------------------------

  #attach(socket: Socket): void {
    this.#socket = socket;
    const decoder = new LengthPrefixDecoder({ lengthBytes: FRAME_LENGTH_BYTES, maxFrameBytes: this.#options.maxFrameBytes });
    socket.on('data', (chunk: Buffer) => {
      try {
        decoder.push(chunk, (body) => this.#onFrame(body));
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
    socket.on('error', () => {});
    socket.on('close', () => this.#onClose(socket));
  }

  #onFrame(body: Buffer): void {
    const decoded = decodeServerFrame(body);
    if (!decoded.ok) return; // a frame from a newer server: skipped
    const frame = decoded.frame;
    switch (frame.type) {
      case 'msg': {
        const message: ChatMessage = { room: frame.room, seq: frame.seq, kind: frame.kind, from: frame.from, text: frame.text, time: frame.time };
        if (frame.cid !== undefined) message.cid = frame.cid;
        if (!this.#tracker.accept(message)) return;
        if (message.cid !== undefined && message.from === this.#name) {
          const pending = this.#unacked.get(message.cid);
          this.#unacked.delete(message.cid);
          pending?.resolve(message);
        }
        this.emit('message', message);
        return;
      }
      case 'synced':
        this.#tracker.known(frame.room, frame.lastSeq);
        this.emit('synced', { room: frame.room, lastSeq: frame.lastSeq, gap: frame.gap });
        return;
      case 'presence':
        this.emit('presence', { room: frame.room, joined: frame.joined, left: frame.left });
        return;
      case 'pm':
        this.emit('private', { from: frame.from, to: frame.to, text: frame.text, time: frame.time });
        return;
      case 'error': {
        const error = new ChatError(frame.code, frame.message, frame.retryAfterMs);
        const waiter = frame.id !== undefined ? this.#waiters.get(frame.id) : undefined;
        if (waiter && frame.id !== undefined) {
          clearTimeout(waiter.timer);
          this.#waiters.delete(frame.id);
          waiter.reject(error);
        } else {
          this.emit('problem', error);
        }
        return;
      }
      default: {
        const id = 'id' in frame ? frame.id : undefined;
        const waiter = id !== undefined ? this.#waiters.get(id) : undefined;
        if (waiter && id !== undefined) {
          clearTimeout(waiter.timer);
          this.#waiters.delete(id);
          waiter.resolve(frame);
        }
      }
    }
  }

  #request(frame: ClientFrame, expect: ParsedServerFrame['type']): Promise<ParsedServerFrame> {
    if (this.#closed) return Promise.reject(new ChatError('closed', 'the chat client is closed'));
    const socket = this.#socket;
    if (!socket || socket.destroyed) return Promise.reject(new ChatError('disconnected', 'not connected to the chat server'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.#waiters.delete(id);
        reject(new ChatError('timeout', `no answer from the chat server within ${this.#options.timeoutMs} ms`));
      }, this.#options.timeoutMs);
      this.#waiters.set(id, {
        resolve: (answer) => (answer.type === expect ? resolve(answer) : reject(new ChatError('bad-reply', `expected ${expect}, got ${answer.type}`))),
        reject,
        timer,
      });
      this.#write({ ...frame, id } as ClientFrame);
    });
  }

  /** The next `synced` (the end of the catch-up that follows a welcome or joined). */
  #nextSynced(): { promise: Promise<void>; cancel: () => void } {
    const socket = this.#socket;
    let cleanup = () => {};
    const promise = new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        cleanup();
        reject(new ChatError('timeout', 'the chat server did not finish sending the history'));
      }, this.#options.timeoutMs);
      const onSynced = () => {
        cleanup();
        resolve();
      };
      const onClose = () => {
        cleanup();
        reject(new ChatError('disconnected', 'the connection closed while joining'));
      };
      cleanup = () => {
        clearTimeout(timer);
        this.off('synced', onSynced);
        socket?.off('close', onClose);
      };
      this.on('synced', onSynced);
      socket?.once('close', onClose);
    });
    promise.catch(() => {});
    return { promise, cancel: () => cleanup() };
  }

  #write(frame: ClientFrame): void {
    const socket = this.#socket;
    if (socket && !socket.destroyed) socket.write(encodeFrame(frame));
  }

  #startPing(): void {
    clearInterval(this.#pingTimer);
    this.#pingTimer = setInterval(() => {
      this.#request({ type: 'ping' }, 'pong').catch(() => this.#socket?.destroy());
    }, this.#options.pingIntervalMs);
    this.#pingTimer.unref();
  }

  #resendUnacked(): void {
    // Messages said while away, or sent just before the drop and not seen in the catch-up.
    for (const [cid, pending] of this.#unacked) {
      if (pending.room === this.#room) this.#sendSay(cid, pending.text);
      else {
        this.#unacked.delete(cid);
        pending.reject(new ChatError('not-sent', `not sent: you are no longer in ${pending.room}`));
      }
    }
  }

  #failWaiters(error: Error, everything = false): void {
    for (const [id, waiter] of this.#waiters) {
      clearTimeout(waiter.timer);
      this.#waiters.delete(id);
      if (everything || !waiter.survivesDisconnect) waiter.reject(error);
    }
  }

  #failAll(error: Error): void {
    this.#failWaiters(error, true);
    for (const [cid, pending] of this.#unacked) {
      this.#unacked.delete(cid);
      pending.reject(error);
    }
  }

  #onClose(socket: Socket): void {
    if (socket !== this.#socket) return;
    const wasConnected = this.#connected;
    this.#connected = false;
    clearInterval(this.#pingTimer);
    this.#failWaiters(new ChatError('disconnected', 'the connection to the chat server was lost'));
    if (this.#closed || !wasConnected) return;
    if (!this.#options.reconnect || !this.#everConnected) {
      this.#closed = true;
      const error = new ChatError('disconnected', 'the connection to the chat server was lost');
      this.#failAll(error);
      this.emit('closed', error);
      return;
    }
    this.emit('disconnected', undefined);
    if (this.#reconnecting) return;
    this.#reconnecting = true;
    void this.#reconnect().finally(() => {
      this.#reconnecting = false;
    });
  }

  async #reconnect(): Promise<void> {
    let delay = 100;
    while (!this.#closed) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      if (this.#closed) return;
      try {
        const welcome = await this.#open();
        this.emit('reconnected', welcome);
        return;
      } catch (error) {
        // Refused for good (the name went to someone else, the password no longer works).
        if (error instanceof ChatError && ['name-taken', 'name-reserved', 'auth-failed', 'bad-name', 'bad-room'].includes(error.code)) {
          this.#closed = true;
          this.#failAll(error);
          this.emit('closed', error);
          return;
        }
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }
}

/**
 * A client of the seed's UDP protocol, like the seed's own: log in with a name, say lines, read
 * whatever the server sends, leave with `E`.
 */
export class SeedChatClient extends EventEmitter<{ line: [string] }> {
  readonly #client: DatagramClient;
  #name: string | undefined;

  private constructor(client: DatagramClient) {
    super();
    this.#client = client;
  }

  /** `localPort`: bind this port (the seed client binds 55555 so that its address never changes). */
  static async connect(options: { host?: string; port?: number; localPort?: number } = {}): Promise<SeedChatClient> {
    const client = await DatagramClient.open(options.host ?? '127.0.0.1', options.port ?? 8000, options.localPort !== undefined ? { localPort: options.localPort } : {});
    const seed = new SeedChatClient(client);
    client.onMessage((message) => {
      if (seed.#name !== undefined) seed.emit('line', message.toString('utf8'));
    });
    return seed;
  }

  get name(): string | undefined {
    return this.#name;
  }

  get localPort(): number {
    return this.#client.localPort;
  }

  /** `L name`: true for `OK`, false for `FAIL` (taken, or not an allowed name). */
  async login(name: string, options: { timeoutMs?: number; attempts?: number } = {}): Promise<boolean> {
    const answer = await this.#client.request(seedLogin(name), { timeoutMs: options.timeoutMs ?? 1_000, attempts: options.attempts ?? 3 });
    const ok = answer.toString('utf8') === SEED_OK;
    if (ok) this.#name = name;
    return ok;
  }

  async say(text: string): Promise<void> {
    if (this.#name === undefined) throw new WharfError('ENOTJOINED', 'log in first');
    await this.#client.send(seedChat(this.#name, text));
  }

  /** `E name`, then close the socket. */
  async close(): Promise<void> {
    if (this.#name !== undefined) {
      await this.#client.send(seedExit(this.#name)).catch(() => {});
      this.#name = undefined;
    }
    await this.#client.close();
  }
}
