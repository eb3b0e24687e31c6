/**
 * The chat room over WebSocket, for the browser portal (issue #19, item 2): the third front end
 * beside the seed's UDP one and wharf's TCP one, its members in the same rooms through the same
 * `RoomBus` (so with `--redis` too). A member here is a signed-in portal account, under the
 * account's name; the messages are JSON text (messages.ts).
 *
 * Per connection: `maxPayload` on every message, the chat's rate limit, at most
 * MAX_PENDING_REQUESTS requests waiting, a bound on bytes sent and not yet taken (a page that does
 * not read is dropped, the room told it left), and a ping every `pingIntervalMs` (a socket that
 * did not answer the last one is dead and dropped).
 *
 * One account, one member: a second tab (or a reconnect before the old socket was seen to die)
 * takes the name over from the first with `RoomBus.transfer`, so the room sees no leave and no
 * join; the first is told `replaced` and closed with 4001, and does not reconnect by itself.
 */
import { randomBytes } from 'node:crypto';
import type { WebSocket } from 'ws';
import type { Logger } from '../../../core/logger.js';
import type { ServiceMetrics } from '../../../core/metrics.js';
import { RateLimiter } from '../../../core/rate-limiter.js';
import { MemberSession, MemberSessions, type MemberSessionsOptions } from '../member-sessions.js';
import { cleanText, nameKey, nameProblem, normalizeName, roomProblem, textProblem } from '../protocol.js';
import { CLOSE_GOING_AWAY, CLOSE_POLICY, CLOSE_REPLACED, CLOSE_TRY_LATER, parsePortalClientMessage, type PortalClientMessage, type PortalErrorCode, type PortalServerMessage } from './messages.js';

export interface WebFrontEndOptions extends MemberSessionsOptions {
  defaultRoom: string;
  /** Largest message a page may send (the WebSocket's `maxPayload`). */
  maxMessageBytes: number;
  maxTextBytes: number;
  historyLimit: number;
  /** Messages a second per account (every kind counts), and the burst allowed. */
  ratePerSecond: number;
  rateBurst: number;
  /** A ping this often; a socket that has not answered the previous one is dropped. */
  pingIntervalMs: number;
  /**
   * A socket that closes without the page saying goodbye (the network dropped) keeps its name
   * this long, so that the page coming back takes it over without a leave and a join (0: never).
   */
  reconnectGraceMs: number;
  logger: Logger;
  metrics: ServiceMetrics;
}

export interface WebStats {
  connections: number;
  messages: number;
  badMessages: number;
  rateLimited: number;
  /** Closed for sending too much: bad messages or a flood past the rate limit. */
  policyClosed: number;
  /** Dropped because they did not read what they were sent. */
  slowDropped: number;
  /** Dropped because they did not answer a ping. */
  deadDropped: number;
  /** Sockets another tab of the same account took over from. */
  replaced: number;
  deliveries: number;
}

/** Who a connection is: the portal's signed-in account, and where it comes from. */
export interface WebPeer {
  account: string;
  /** `ip:port`, for logs. */
  address: string;
}

/** Bad messages (not JSON, unknown type, binary) a connection may send before it is closed. */
const MAX_BAD_MESSAGES = 10;
/** Messages over the rate limit in a row, as a multiple of the burst, before the socket is closed. */
const FLOOD_BURSTS = 4;
/** Requests read and not yet handled; at this many the socket is not read until half are done. */
const MAX_PENDING_REQUESTS = 32;
/** Most rooms one `rooms` answer lists (each costs a look-up of its members). */
const MAX_LISTED_ROOMS = 100;

class WebSession extends MemberSession<string> {
  /** The membership of the tab this one replaced, to take over at `join` (or free at close). */
  inherited: { name: string; owner: string } | undefined;
  replaced = false;
  closed = false;
  /** The server cut it (not reading, not answering pings, too many bad messages): no grace. */
  dropped = false;
  readonly owner = `web:${randomBytes(8).toString('hex')}`;
  /** Answered the last ping. */
  alive = true;
  badMessages = 0;
  /** Messages refused by the rate limit since the last one allowed. */
  overLimit = 0;
  lastRateError = 0;
  pending = 0;
  paused = false;

  constructor(
    readonly ws: WebSocket,
    readonly peer: WebPeer,
    readonly accountKey: string,
  ) {
    super();
  }
}

export class WebFrontEnd {
  readonly stats: WebStats = { connections: 0, messages: 0, badMessages: 0, rateLimited: 0, policyClosed: 0, slowDropped: 0, deadDropped: 0, replaced: 0, deliveries: 0 };
  readonly #options: WebFrontEndOptions;
  readonly #sessions = new Set<WebSession>();
  readonly #byAccount = new Map<string, WebSession>();
  /** Names, rooms, room events and catch-ups: the rules shared with the TCP front end. */
  readonly #members: MemberSessions<WebSession, string>;
  /** Names of sockets that dropped, held for `reconnectGraceMs` by account. */
  readonly #orphans = new Map<string, { name: string; owner: string; timer: NodeJS.Timeout }>();
  /** One chain of work per account: its tabs' joins and leaves happen in order. */
  readonly #chains = new Map<string, Promise<void>>();
  readonly #limiter: RateLimiter;
  readonly #unsubscribe: () => void;
  readonly #pinger: NodeJS.Timeout;
  #stopping = false;

  constructor(options: WebFrontEndOptions) {
    this.#options = options;
    this.#limiter = new RateLimiter({ ratePerSecond: options.ratePerSecond, burst: options.rateBurst });
    this.#members = new MemberSessions(options, {
      encode: (frame) => JSON.stringify(frame),
      deliver: (session, text) => this.#deliver(session, text),
      dropSlow: (session, behind) => this.#dropSlow(session, behind),
      gone: (session) => session.closed || session.replaced,
    });
    this.#unsubscribe = options.bus.subscribe((event) => this.#members.onEvent(event));
    this.#pinger = setInterval(() => this.#pingAll(), options.pingIntervalMs);
    this.#pinger.unref();
  }

  get memberCount(): number {
    return this.#members.size;
  }

  get connectionCount(): number {
    return this.#sessions.size;
  }

  get stopping(): boolean {
    return this.#stopping;
  }

  /** Close every socket (the members leave) and stop. */
  async stop(): Promise<void> {
    this.#stopping = true;
    clearInterval(this.#pinger);
    for (const [accountKey, orphan] of this.#orphans) this.#releaseOrphan(accountKey, orphan);
    for (const session of this.#sessions) session.ws.close(CLOSE_GOING_AWAY, 'the server is shutting down');
    // Sockets that do not answer the close are cut; each one's leave is in its account's chain.
    const cut = setTimeout(() => {
      for (const session of this.#sessions) session.ws.terminate();
    }, 1_000);
    const deadline = Date.now() + 5_000;
    while ((this.#sessions.size > 0 || this.#chains.size > 0) && Date.now() < deadline) {
      await Promise.all([...this.#chains.values(), new Promise((resolve) => setTimeout(resolve, 10))]);
    }
    clearTimeout(cut);
    this.#unsubscribe();
    this.#members.stop();
  }

  // -- connections ------------------------------------------------------------------------------

  /** A socket the portal upgraded for a signed-in account. */
  accept(ws: WebSocket, peer: WebPeer): void {
    const { logger, metrics } = this.#options;
    const session = new WebSession(ws, peer, nameKey(normalizeName(peer.account)));
    this.#sessions.add(session);
    this.stats.connections++;
    metrics.connectionsTotal++;
    metrics.connectionsOpen++;
    ws.on('pong', () => {
      session.alive = true;
    });
    ws.on('error', (error) => {
      // Too big (1009), invalid UTF-8 (1007), a broken frame: ws closes the socket itself.
      metrics.errors++;
      logger.debug({ err: error, peer: peer.address }, 'chat web socket error');
    });
    ws.on('close', (code) => this.#closed(session, code));
    ws.on('message', (data, isBinary) => this.#received(session, data, isBinary));
    const previous = this.#byAccount.get(session.accountKey);
    this.#byAccount.set(session.accountKey, session);
    if (previous) this.#replace(previous, session);
    else this.#adoptOrphan(session);
    this.#send(session, { type: 'hello', name: normalizeName(peer.account), room: this.#options.defaultRoom, maxTextBytes: this.#options.maxTextBytes });
  }

  /** `next` is the same account in another tab: it takes the membership over at its `join`. */
  #replace(previous: WebSession, next: WebSession): void {
    this.stats.replaced++;
    previous.replaced = true;
    next.inherited = previous.name !== undefined ? { name: previous.name, owner: previous.owner } : previous.inherited;
    previous.inherited = undefined;
    this.#detach(previous);
    this.#sendNow(previous, { type: 'replaced', message: 'the chat was opened in another tab or window' });
    previous.ws.close(CLOSE_REPLACED, 'opened in another tab');
  }

  /** A socket of an account whose last one dropped within the grace: it takes that name over. */
  #adoptOrphan(session: WebSession): void {
    const orphan = this.#orphans.get(session.accountKey);
    if (orphan === undefined) return;
    clearTimeout(orphan.timer);
    this.#orphans.delete(session.accountKey);
    session.inherited = { name: orphan.name, owner: orphan.owner };
  }

  #releaseOrphan(accountKey: string, orphan: { name: string; owner: string; timer: NodeJS.Timeout }): void {
    clearTimeout(orphan.timer);
    if (this.#orphans.get(accountKey) === orphan) this.#orphans.delete(accountKey);
    void this.#chain(accountKey, () => this.#options.bus.release(orphan.name, orphan.owner, 'disconnected'));
  }

  #closed(session: WebSession, code: number): void {
    if (session.closed) return;
    session.closed = true;
    this.#sessions.delete(session);
    this.#options.metrics.connectionsOpen--;
    if (this.#byAccount.get(session.accountKey) === session) this.#byAccount.delete(session.accountKey);
    // A replaced tab leaves its name to the tab that replaced it.
    if (session.replaced) return;
    const { name, inherited } = session;
    this.#detach(session);
    // The network dropped (no close frame from the page: 1006): the name waits for the page to
    // come back. A page that left (1000, 1001) or a socket the server cut leaves at once.
    const held = name ?? inherited?.name;
    if (code === 1006 && !session.dropped && !this.#stopping && this.#options.reconnectGraceMs > 0 && held !== undefined) {
      const owner = name !== undefined ? session.owner : inherited!.owner;
      if (name !== undefined && inherited !== undefined) void this.#chain(session.accountKey, () => this.#options.bus.release(inherited.name, inherited.owner, 'disconnected'));
      const orphan = { name: held, owner, timer: setTimeout(() => this.#releaseOrphan(session.accountKey, orphan), this.#options.reconnectGraceMs) };
      orphan.timer.unref();
      const earlier = this.#orphans.get(session.accountKey);
      if (earlier !== undefined) this.#releaseOrphan(session.accountKey, earlier);
      this.#orphans.set(session.accountKey, orphan);
      return;
    }
    void this.#chain(session.accountKey, async () => {
      if (name !== undefined) await this.#options.bus.release(name, session.owner, 'disconnected');
      if (inherited !== undefined) await this.#options.bus.release(inherited.name, inherited.owner, 'disconnected');
    });
  }

  #chain(accountKey: string, work: () => Promise<void>): Promise<void> {
    const next = (this.#chains.get(accountKey) ?? Promise.resolve()).then(work).catch((error: unknown) => {
      this.#options.logger.error({ err: error, account: accountKey }, 'chat request from the portal failed');
    });
    this.#chains.set(accountKey, next);
    void next.then(() => {
      if (this.#chains.get(accountKey) === next) this.#chains.delete(accountKey);
    });
    return next;
  }

  /** Leave the room here and forget the name on the session too (the bus is told separately). */
  #detach(session: WebSession): void {
    this.#members.detach(session);
    session.name = undefined;
    session.room = undefined;
  }

  // -- requests ---------------------------------------------------------------------------------

  #received(session: WebSession, data: Buffer | ArrayBuffer | Buffer[], isBinary: boolean): void {
    if (session.closed || session.replaced || this.#stopping || session.ws.readyState !== session.ws.OPEN) return;
    // The rate limit comes before any parsing: a flood costs a token check per message.
    if (!this.#allowed(session)) return;
    if (isBinary) return this.#bad(session, 'messages are JSON text, not binary');
    const text = Array.isArray(data) ? Buffer.concat(data).toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    const parsed = parsePortalClientMessage(text, this.#options.maxMessageBytes);
    if (!parsed.ok) return this.#bad(session, parsed.message);
    if (++session.pending >= MAX_PENDING_REQUESTS && !session.paused) {
      session.paused = true;
      session.ws.pause();
    }
    void this.#chain(session.accountKey, () => this.#handle(session, parsed.message).catch((error: unknown) => this.#failed(session, parsed.message, error))).finally(() => {
      if (--session.pending <= MAX_PENDING_REQUESTS / 2 && session.paused && !session.closed) {
        session.paused = false;
        session.ws.resume();
      }
    });
  }

  /**
   * The room could not do what was asked (Redis away longer than its retries, say): the page is
   * told, and a catch-up that was under way ends, so that nothing stays held for it. A name
   * already claimed stays attached, so that the socket's close frees it.
   */
  #failed(session: WebSession, message: PortalClientMessage, error: unknown): void {
    this.#options.logger.warn({ err: error, account: session.peer.account, request: message.type }, 'chat request from the portal failed');
    if (session.catchingUp !== undefined) {
      session.catchingUp = undefined;
      session.heldOverflow = false;
      this.#members.flushDeferred(session);
    }
    this.#error(session, message.id, 'unavailable', 'the chat could not do that just now; try again');
  }

  #bad(session: WebSession, message: string): void {
    this.stats.badMessages++;
    this.#error(session, undefined, 'bad-request', message);
    if (++session.badMessages >= MAX_BAD_MESSAGES) this.#closePolicy(session, 'too many bad messages');
  }

  #allowed(session: WebSession): boolean {
    if (this.#limiter.take(session.accountKey)) {
      session.overLimit = 0;
      return true;
    }
    this.stats.rateLimited++;
    if (++session.overLimit >= FLOOD_BURSTS * this.#options.rateBurst) {
      this.#closePolicy(session, 'too many messages');
      return false;
    }
    const now = Date.now();
    // One complaint a second at most: the complaint must not become the flood.
    if (now - session.lastRateError > 1_000) {
      session.lastRateError = now;
      this.#error(session, undefined, 'rate-limited', `slow down: at most ${this.#options.ratePerSecond} messages a second`, 1_000);
    }
    return false;
  }

  #closePolicy(session: WebSession, reason: string): void {
    if (session.closed || session.ws.readyState !== session.ws.OPEN) return;
    this.stats.policyClosed++;
    session.dropped = true;
    this.#options.logger.info({ peer: session.peer.address, account: session.peer.account, reason }, 'chat web socket closed: ' + reason);
    session.ws.close(CLOSE_POLICY, reason);
    // A peer still sending may never answer the close: it is cut after a second.
    setTimeout(() => session.ws.terminate(), 1_000).unref();
  }

  async #handle(session: WebSession, message: PortalClientMessage): Promise<void> {
    if (session.closed || session.replaced || this.#stopping) return;
    const withId = message.id !== undefined ? { id: message.id } : {};
    switch (message.type) {
      case 'ping':
        return this.#send(session, { type: 'pong', ...withId });
      case 'join':
        return this.#join(session, message.room, message.since, message.id);
      case 'rooms':
        return this.#listRooms(session, message.id);
      default:
    }
    const { name, room } = session;
    if (name === undefined || room === undefined) return this.#error(session, message.id, 'not-joined', 'join a room first');
    const { bus } = this.#options;
    switch (message.type) {
      case 'say': {
        const text = cleanText(message.text);
        const problem = textProblem(text, this.#options.maxTextBytes);
        if (problem) return this.#error(session, message.id, 'bad-text', problem);
        const said = await bus.publish(room, { kind: 'chat', from: name, text, ...(message.cid !== undefined ? { cid: message.cid } : {}) }, session.owner);
        if (!said) return this.#error(session, message.id, 'not-joined', 'you are not in that room any more (the chat may be open elsewhere)');
        this.stats.messages++;
        return;
      }
      case 'pm': {
        const text = cleanText(message.text);
        const problem = textProblem(text, this.#options.maxTextBytes);
        if (problem) return this.#error(session, message.id, 'bad-text', problem);
        const to = normalizeName(message.to);
        if (!(await bus.sendPrivate(name, to, text, session.owner))) this.#error(session, message.id, 'no-such-member', `nobody called ${JSON.stringify(to)} is here`);
        return;
      }
      case 'who':
        return this.#send(session, { type: 'members', ...withId, room, members: await bus.members(room) });
      case 'history': {
        const limit = Math.min(message.limit ?? this.#options.historyLimit, this.#options.historyLimit);
        const page = await bus.history(room, { before: message.before, limit });
        return this.#send(session, { type: 'history', ...withId, room, messages: page.messages, complete: page.complete });
      }
    }
  }

  async #listRooms(session: WebSession, id: number | undefined): Promise<void> {
    const { bus, defaultRoom } = this.#options;
    const names = new Set(await bus.rooms());
    names.add(defaultRoom);
    const sorted = [...names].sort((a, b) => (a === defaultRoom ? -1 : b === defaultRoom ? 1 : a < b ? -1 : a > b ? 1 : 0)).slice(0, MAX_LISTED_ROOMS);
    const rooms = await Promise.all(sorted.map(async (name) => ({ name, members: (await bus.members(name)).length })));
    this.#send(session, { type: 'rooms', ...(id !== undefined ? { id } : {}), rooms });
  }

  /** Join `wanted` (the first time: take the account's name; later: move there), then catch up. */
  async #join(session: WebSession, wanted: string, since: number | undefined, id: number | undefined): Promise<void> {
    const room = normalizeName(wanted);
    const roomIssue = roomProblem(room);
    if (roomIssue) return this.#error(session, id, 'bad-room', roomIssue);
    if (session.name !== undefined) return this.#move(session, room, since, id);
    const name = normalizeName(session.peer.account);
    const nameIssue = nameProblem(name);
    if (nameIssue) return this.#error(session, id, 'bad-name', `your account's name cannot be used in the chat: ${nameIssue}`);
    if (await this.#takeOver(session, name, room)) return this.#sync(session, since, id);
    if (session.closed || session.replaced) return;
    session.catchingUp = [];
    this.#members.attach(session, name, room);
    const claimed = await this.#options.bus.claim({ name, room, via: 'web', account: true, address: session.peer.address }, session.owner);
    if (session.replaced) return; // the tab that replaced this one takes the name over
    if (!claimed.ok) {
      this.#detach(session);
      session.catchingUp = undefined;
      this.#members.flushDeferred(session);
      if (claimed.reason === 'taken') return this.#error(session, id, 'name-taken', `${name} is already in the chat from another program (wharf chat?); leave there first`);
      return this.#error(session, id, 'full', claimed.reason === 'full' ? 'the chat is full' : 'too many rooms are open');
    }
    if (session.closed) {
      this.#detach(session);
      await this.#options.bus.release(name, session.owner, 'disconnected');
      return;
    }
    return this.#sync(session, since, id);
  }

  /**
   * The name held by the tab this one replaced: taken over without a leave and a join. The
   * session is attached before the transfer is asked for, so that a tab replacing this one in
   * the meantime inherits the name from this session's owner.
   */
  async #takeOver(session: WebSession, name: string, room: string): Promise<boolean> {
    const inherited = session.inherited;
    if (inherited === undefined || inherited.name !== name) return false;
    session.inherited = undefined;
    const { bus } = this.#options;
    session.catchingUp = [];
    this.#members.attach(session, name, room);
    const taken = await bus.transfer(name, inherited.owner, session.owner, { address: session.peer.address, via: 'web' });
    // Closed: its close frees the name (queued after this); replaced: the next tab takes it.
    if (session.closed || session.replaced) return taken;
    if (!taken) {
      this.#detach(session);
      session.catchingUp = undefined;
      return false;
    }
    const heldRoom = (await bus.member(name))?.room ?? room;
    if (heldRoom !== room && !(await bus.move(name, session.owner, room)).ok && session.name !== undefined) {
      this.#detach(session);
      this.#members.attach(session, name, heldRoom);
    }
    return true;
  }

  async #move(session: WebSession, room: string, since: number | undefined, id: number | undefined): Promise<void> {
    const name = session.name!;
    if (room === session.room) return this.#sync(session, since, id);
    const previous = session.room!;
    session.catchingUp = [];
    this.#detach(session);
    this.#members.attach(session, name, room);
    const moved = await this.#options.bus.move(name, session.owner, room);
    if (session.replaced || session.closed) return;
    if (!moved.ok) {
      this.#detach(session);
      this.#members.attach(session, name, previous);
      session.catchingUp = undefined;
      this.#members.flushDeferred(session);
      return this.#error(session, id, 'full', 'too many rooms are open');
    }
    return this.#sync(session, since, id);
  }

  /** `joined`, then the catch-up owed (MemberSessions.sync). */
  async #sync(session: WebSession, since: number | undefined, id: number | undefined): Promise<void> {
    await this.#members.sync(session, since, (room, members, lastSeq) => this.#send(session, { type: 'joined', ...(id !== undefined ? { id } : {}), room, members, lastSeq }));
  }

  #error(session: WebSession, id: number | undefined, code: PortalErrorCode, message: string, retryAfterMs?: number): void {
    this.#send(session, { type: 'error', ...(id !== undefined ? { id } : {}), code, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
  }

  // -- writing ----------------------------------------------------------------------------------

  #send(session: WebSession, message: PortalServerMessage): void {
    this.#deliver(session, JSON.stringify(message));
  }

  /** Send even to a socket being replaced (its last word); no bound check needed for one message. */
  #sendNow(session: WebSession, message: PortalServerMessage): void {
    if (session.ws.readyState === session.ws.OPEN) session.ws.send(JSON.stringify(message));
  }

  /**
   * Send `text` unless the member is not reading: one owing more than `maxWriteQueueBytes`, or
   * behind (over the high-water mark) for longer than `slowReaderMs`, is dropped instead.
   */
  #deliver(session: WebSession, text: string): void {
    const ws = session.ws;
    if (session.closed || ws.readyState !== ws.OPEN) return;
    if (this.#tooFarBehind(session)) return;
    this.stats.deliveries++;
    this.#options.metrics.bytesOut += text.length;
    ws.send(text);
  }

  #tooFarBehind(session: WebSession): boolean {
    return this.#members.droppedAsSlow(session, session.ws.bufferedAmount);
  }

  #dropSlow(session: WebSession, behind: number): void {
    if (session.closed) return;
    this.stats.slowDropped++;
    session.dropped = true;
    this.#options.logger.info({ peer: session.peer.address, account: session.peer.account, behind }, 'chat web member is not reading; disconnecting');
    session.deferred = [];
    session.deferredBytes = 0;
    // The close frame would wait behind what it does not read: said, then the socket is cut.
    session.ws.close(CLOSE_TRY_LATER, 'not reading');
    session.ws.terminate();
  }

  #pingAll(): void {
    for (const session of this.#sessions) {
      if (session.ws.readyState !== session.ws.OPEN) continue;
      if (!session.alive) {
        this.stats.deadDropped++;
        session.dropped = true;
        this.#options.logger.debug({ peer: session.peer.address, account: session.peer.account }, 'chat web socket did not answer a ping; dropping it');
        session.ws.terminate();
        continue;
      }
      if (this.#tooFarBehind(session)) continue;
      session.alive = false;
      session.ws.ping();
    }
  }
}
