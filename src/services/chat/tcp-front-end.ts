/**
 * wharf's own chat protocol over TCP: length-prefixed JSON frames (protocol.ts), several rooms,
 * sequence-numbered messages with catch-up on reconnect, private messages, optional account
 * login. Its members share the rooms with the seed's UDP members through the room bus.
 */
import { randomBytes } from 'node:crypto';
import { LengthPrefixDecoder } from '../../codec/index.js';
import type { Connection, StreamHandler } from '../../core/connection.js';
import { framed } from '../../core/framed.js';
import { loginFailureLine } from '../../store/index.js';
import type { Logger } from '../../core/logger.js';
import type { ServiceMetrics } from '../../core/metrics.js';
import { RateLimiter } from '../../core/rate-limiter.js';
import type { ListeningAddress } from '../../core/service.js';
import { StreamServer } from '../../core/tcp-server.js';
import type { ChatAccounts } from './accounts.js';
import { PresenceBatcher, type PresenceRun } from './presence.js';
import {
  FRAME_LENGTH_BYTES,
  PROTOCOL_VERSION,
  cleanText,
  decodeClientFrame,
  encodeFrame,
  mergeCatchUp,
  messageFrame,
  nameProblem,
  normalizeName,
  roomProblem,
  textProblem,
  type ChatMessage,
  type ClientFrame,
  type ErrorCode,
  type ServerFrame,
} from './protocol.js';
import type { RoomBus, RoomEvent } from './room.js';

export interface TcpFrontEndOptions {
  bus: RoomBus;
  accounts: ChatAccounts;
  defaultRoom: string;
  host: string;
  port: number;
  maxFrameBytes: number;
  maxTextBytes: number;
  /** Messages sent to a member who joins without `since`. */
  historyOnJoin: number;
  /** Most messages one catch-up sends (the newest ones; older ones are reported as a gap). */
  maxCatchUp: number;
  /** Most messages one `history` request returns. */
  historyLimit: number;
  /** `say` and `pm` per second per connection, and the burst allowed. */
  ratePerSecond: number;
  rateBurst: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  idleTimeoutMs: number;
  /** Unsent bytes above which a member counts as behind. */
  writeHighWaterBytes: number;
  /** A member further behind than this at the end of an event-loop turn is dropped. */
  maxWriteQueueBytes: number;
  /** A member behind (above the high-water mark) for this long is dropped. */
  slowReaderMs: number;
  logger: Logger;
  metrics: ServiceMetrics;
}

export interface TcpStats {
  sessions: number;
  messages: number;
  badFrames: number;
  rateLimited: number;
  authFailures: number;
  /** Members dropped because they did not read what they were sent. */
  slowDropped: number;
  /** Times a connection was not read for a while because MAX_PENDING_REQUESTS of its requests were waiting. */
  readPauses: number;
  deliveries: number;
}

/** Bad frames a connection may send before it is closed. */
const MAX_BAD_FRAMES = 10;
const BAD_PEER_GRACE_MS = 1_000;
/**
 * Requests read from one connection and not yet handled (they are handled one at a time). At
 * this many, reading stops until half are done: a peer that sends faster than it is served (its
 * login is being delayed, the store is slow) holds at most this many frames of `maxFrameBytes`.
 */
export const MAX_PENDING_REQUESTS = 32;
/** Frames gathered for one member are written once they reach this size, without waiting for the turn to end. */
const OUT_CHUNK_BYTES = 256 * 1024;

class Session {
  name: string | undefined;
  room: string | undefined;
  account = false;
  readonly owner: string;
  readonly token = randomBytes(16).toString('hex');
  /**
   * The highest sequence number sent to this member in its room: a message at or below it is not
   * sent again (over Redis, a message can arrive after the history that already held it).
   */
  delivered = 0;
  /** Messages that arrived while this member's catch-up was being read; undefined when live. */
  catchingUp: ChatMessage[] | undefined;
  /** More than `maxCatchUp` live messages arrived during the catch-up: the oldest were let go. */
  heldOverflow = false;
  /** Other frames held back during a catch-up (presence, private messages), in order. */
  deferred: Buffer[] = [];
  deferredBytes = 0;
  /** Frames of this event-loop turn, written as one chunk at the end of it. */
  out: Buffer[] = [];
  outBytes = 0;
  badFrames = 0;
  busy: Promise<void> = Promise.resolve();
  /** Requests read and not yet handled (see MAX_PENDING_REQUESTS). */
  pending = 0;
  /** Reading is stopped because `pending` reached MAX_PENDING_REQUESTS. */
  readPaused = false;
  /** Set when another connection took this member over (resume): leave nothing behind. */
  transferred = false;
  lastRateError = 0;
  /** When this member's unsent bytes went above the high-water mark (undefined: not behind). */
  behindSince: number | undefined;

  constructor(readonly connection: Connection) {
    this.owner = `tcp:${connection.id}:${randomBytes(4).toString('hex')}`;
  }
}

export class TcpFrontEnd {
  readonly stats: TcpStats = { sessions: 0, messages: 0, badFrames: 0, rateLimited: 0, authFailures: 0, slowDropped: 0, readPauses: 0, deliveries: 0 };
  readonly #options: TcpFrontEndOptions;
  readonly #byName = new Map<string, Session>();
  readonly #rooms = new Map<string, Set<Session>>();
  readonly #limiter: RateLimiter;
  readonly #presence: PresenceBatcher;
  readonly #dirty = new Set<Session>();
  #flushScheduled = false;
  #server!: StreamServer;
  #unsubscribe: (() => void) | undefined;
  #stopping = false;

  private constructor(options: TcpFrontEndOptions) {
    this.#options = options;
    this.#limiter = new RateLimiter({ ratePerSecond: options.ratePerSecond, burst: options.rateBurst });
    this.#presence = new PresenceBatcher((run) => this.#deliverPresence(run));
  }

  static async start(options: TcpFrontEndOptions): Promise<TcpFrontEnd> {
    const front = new TcpFrontEnd(options);
    front.#server = await StreamServer.listen({
      host: options.host,
      port: options.port,
      maxConnections: options.maxConnections,
      maxConnectionsPerIp: options.maxConnectionsPerIp,
      idleTimeoutMs: options.idleTimeoutMs,
      writeHighWaterBytes: options.writeHighWaterBytes,
      // The hard stop in the socket layer; the chat's own rule (#flushSession) drops a slow reader
      // first, at the end of a turn, once it has had the chance to read what it was sent.
      maxWriteQueueBytes: 2 * options.maxWriteQueueBytes + OUT_CHUNK_BYTES,
      logger: options.logger,
      metrics: options.metrics,
      onConnection: (connection) => front.#accept(connection),
      refusal: (reason) => encodeFrame({ type: 'error', code: 'full', message: reason === 'shutting-down' ? 'the server is shutting down' : 'too many connections; try again later' }),
    });
    front.#unsubscribe = options.bus.subscribe((event) => front.#onEvent(event));
    return front;
  }

  get addresses(): ListeningAddress[] {
    return this.#server.addresses;
  }

  get memberCount(): number {
    return this.#byName.size;
  }

  async stop(deadlineMs?: number): Promise<void> {
    this.#stopping = true;
    this.#flush();
    await this.#server.stop(deadlineMs);
    this.#unsubscribe?.();
    this.#presence.stop();
  }

  // -- connections ------------------------------------------------------------------------------

  #accept(connection: Connection): StreamHandler {
    const session = new Session(connection);
    this.stats.sessions++;
    const decoder = new LengthPrefixDecoder({ lengthBytes: FRAME_LENGTH_BYTES, maxFrameBytes: this.#options.maxFrameBytes });
    return framed(connection, decoder, {
      frame: (body) => {
        // Past the bad-frame limit the peer is being let go: what it already sent (a 64 KiB read
        // holds 16,000 empty frames) is neither parsed nor answered, and nothing more is read.
        if (session.badFrames >= MAX_BAD_FRAMES) return;
        const decoded = decodeClientFrame(body);
        if (!decoded.ok) {
          this.stats.badFrames++;
          this.#error(session, undefined, 'bad-request', decoded.message);
          if (++session.badFrames >= MAX_BAD_FRAMES) {
            this.#flushSession(session);
            connection.pauseReading();
            connection.end();
            // A peer still sending cannot take our FIN (its own writes wait behind the bytes we no
            // longer read): it gets a second to read the errors, then the connection is cut.
            setTimeout(() => connection.destroy(), BAD_PEER_GRACE_MS).unref();
          }
          return;
        }
        // One request at a time per connection, in order: a `say` never overtakes the `hello`.
        if (++session.pending >= MAX_PENDING_REQUESTS && !session.readPaused) {
          session.readPaused = true;
          this.stats.readPauses++;
          connection.pauseReading();
        }
        session.busy = session.busy
          .then(() => this.#handle(session, decoded.frame))
          .catch((error: unknown) => {
            this.#options.logger.error({ err: error, connection: connection.id }, 'chat request failed');
            this.#error(session, undefined, 'unavailable', 'the server could not handle that request');
          })
          .finally(() => {
            if (--session.pending <= MAX_PENDING_REQUESTS / 2 && session.readPaused && !connection.closed) {
              session.readPaused = false;
              connection.resumeReading();
            }
          });
      },
      codecError: (error) => {
        this.stats.badFrames++;
        connection.write(encodeFrame({ type: 'error', code: 'bad-request', message: error.message }));
      },
      close: () => {
        this.#closed(session).catch((error: unknown) => this.#options.logger.warn({ err: error, connection: connection.id }, 'could not free a chat name'));
      },
      shutdown: () => {
        this.#error(session, undefined, 'unavailable', 'the server is shutting down');
        this.#flushSession(session);
        connection.end();
      },
    });
  }

  async #closed(session: Session): Promise<void> {
    this.#dirty.delete(session);
    const { name, room } = session;
    if (name === undefined || room === undefined) return;
    this.#detach(session);
    if (!session.transferred) await this.#options.bus.release(name, session.owner, 'disconnected');
  }

  /** Forget a session's name and room here (the bus is told separately). */
  #detach(session: Session): void {
    const { name, room } = session;
    if (name !== undefined && this.#byName.get(name) === session) this.#byName.delete(name);
    if (room !== undefined) {
      const members = this.#rooms.get(room);
      members?.delete(session);
      if (members?.size === 0) this.#rooms.delete(room);
    }
  }

  #attach(session: Session, name: string, room: string): void {
    session.name = name;
    session.room = room;
    this.#byName.set(name, session);
    let members = this.#rooms.get(room);
    if (!members) {
      members = new Set();
      this.#rooms.set(room, members);
    }
    members.add(session);
  }

  // -- requests ---------------------------------------------------------------------------------

  async #handle(session: Session, frame: ClientFrame): Promise<void> {
    if (session.connection.closed || this.#stopping) return;
    switch (frame.type) {
      case 'hello':
        return this.#hello(session, frame);
      case 'ping':
        this.#send(session, { type: 'pong', ...(frame.id !== undefined ? { id: frame.id } : {}) });
        return;
      case 'post':
        return this.#post(session, frame);
      case 'bye':
        if (session.name !== undefined) {
          const name = session.name;
          this.#detach(session);
          session.name = undefined;
          session.room = undefined;
          await this.#options.bus.release(name, session.owner, 'left');
        }
        this.#flushSession(session);
        session.connection.end();
        return;
      default:
    }
    const name = session.name;
    const room = session.room;
    if (name === undefined || room === undefined) {
      this.#error(session, frame.id, 'not-joined', 'say hello first');
      return;
    }
    switch (frame.type) {
      case 'say': {
        if (!this.#allowed(session, frame.id)) return;
        const text = cleanText(frame.text);
        const problem = textProblem(text, this.#options.maxTextBytes);
        if (problem) return this.#error(session, frame.id, 'bad-text', problem);
        const message = await this.#options.bus.publish(room, { kind: 'chat', from: name, text, ...(frame.cid !== undefined ? { cid: frame.cid } : {}) }, session.owner);
        if (!message) return this.#error(session, frame.id, 'not-joined', 'you are not in that room any more');
        this.stats.messages++;
        return;
      }
      case 'pm': {
        if (!this.#allowed(session, frame.id)) return;
        const text = cleanText(frame.text);
        const problem = textProblem(text, this.#options.maxTextBytes);
        if (problem) return this.#error(session, frame.id, 'bad-text', problem);
        const to = normalizeName(frame.to);
        const sent = await this.#options.bus.sendPrivate(name, to, text, session.owner);
        if (!sent) this.#error(session, frame.id, 'no-such-member', `nobody called ${JSON.stringify(to)} is here`);
        return;
      }
      case 'who': {
        const members = await this.#options.bus.members(room);
        this.#send(session, { type: 'members', ...(frame.id !== undefined ? { id: frame.id } : {}), room, members });
        return;
      }
      case 'join':
        return this.#join(session, frame.room, frame.since, frame.id);
      case 'history': {
        const limit = Math.min(frame.limit ?? this.#options.historyLimit, this.#options.historyLimit);
        const page = await this.#options.bus.history(room, { limit, ...(frame.before !== undefined ? { before: frame.before } : {}) });
        this.#send(session, { type: 'history', ...(frame.id !== undefined ? { id: frame.id } : {}), room, messages: page.messages, complete: page.complete });
        return;
      }
    }
  }

  async #hello(session: Session, frame: Extract<ClientFrame, { type: 'hello' }>): Promise<void> {
    const { bus, logger } = this.#options;
    if (session.name !== undefined) return this.#error(session, frame.id, 'bad-request', `you are already in as ${session.name}`);
    let name = normalizeName(frame.name);
    const nameIssue = nameProblem(name);
    if (nameIssue) return this.#error(session, frame.id, 'bad-name', nameIssue);
    const room = normalizeName(frame.room ?? this.#options.defaultRoom);
    const roomIssue = roomProblem(room);
    if (roomIssue) return this.#error(session, frame.id, 'bad-room', roomIssue);

    const identity = await this.#identify(session, name, frame.password, frame.id);
    if (!identity || session.connection.closed) return;
    name = identity.name;
    const account = identity.account;

    // A client coming back with its token takes its name over from its old connection.
    const holder = this.#byName.get(name);
    if (holder && frame.resume !== undefined && frame.resume === holder.token && holder !== session) {
      if (await bus.transfer(name, holder.owner, session.owner, { address: this.#address(session) })) {
        holder.transferred = true;
        this.#detach(holder);
        holder.name = undefined;
        holder.room = undefined;
        holder.connection.destroy();
        session.account = account || holder.account;
        // The room may differ from the one the old connection was in.
        const claimedRoom = (await bus.member(name))?.room ?? room;
        session.catchingUp = [];
        this.#attach(session, name, claimedRoom);
        if (claimedRoom !== room) {
          const moved = await bus.move(name, session.owner, room);
          if (moved.ok) {
            this.#detach(session);
            this.#attach(session, name, room);
          }
        }
        logger.debug({ name, connection: session.connection.id }, 'chat member resumed');
        return this.#sync(session, 'welcome', frame.since, frame.id);
      }
    }

    session.catchingUp = [];
    this.#attach(session, name, room);
    const claimed = await bus.claim({ name, room, via: 'tcp', account, address: this.#address(session) }, session.owner);
    if (!claimed.ok) {
      this.#detach(session);
      session.name = undefined;
      session.room = undefined;
      session.catchingUp = undefined;
      if (claimed.reason === 'taken') return this.#error(session, frame.id, 'name-taken', `${name} is already in the chat; choose another name`);
      return this.#error(session, frame.id, 'full', claimed.reason === 'full' ? 'the chat is full' : 'too many rooms are open');
    }
    session.account = account;
    if (session.connection.closed) {
      this.#detach(session);
      await bus.release(name, session.owner, 'disconnected');
      return;
    }
    return this.#sync(session, 'welcome', frame.since, frame.id);
  }

  /**
   * Who a client that gives `name` (and maybe a password) may speak as. A registered name is its
   * account's: the password is the only way in, and `ALICE` logged in is the account `alice`.
   * Undefined after answering with the error.
   */
  async #identify(session: Session, name: string, password: string | undefined, id: number | undefined): Promise<{ name: string; account: boolean } | undefined> {
    const { accounts } = this.#options;
    if (password === undefined) {
      if (!(await accounts.isAccount(name))) return { name, account: false };
      this.#error(session, id, 'name-reserved', `${name} is a registered account: log in with its password (wharf chat --login)`);
      return undefined;
    }
    const verdict = await accounts.verify(name, password, session.connection.remoteAddress);
    if (verdict.ok) return { name: verdict.account.name, account: true };
    this.stats.authFailures++;
    this.#options.logger.warn({ account: name.slice(0, 64), peer: session.connection.remoteAddress, reason: verdict.reason }, loginFailureLine(name, session.connection.remoteAddress, verdict));
    if (verdict.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, verdict.delayMs));
    const message = verdict.reason === 'throttled' ? 'too many failed logins; try again later' : verdict.reason === 'disabled' ? 'this account is disabled' : 'wrong name or password';
    this.#error(session, id, 'auth-failed', message, verdict.retryAfterMs);
    return undefined;
  }

  /** `post`: one message from a name that does not join, so the room hears no join and no leave. */
  async #post(session: Session, frame: Extract<ClientFrame, { type: 'post' }>): Promise<void> {
    if (!this.#allowed(session, frame.id)) return;
    const nameIssue = nameProblem(frame.name);
    if (nameIssue) return this.#error(session, frame.id, 'bad-name', nameIssue);
    const room = normalizeName(frame.room ?? this.#options.defaultRoom);
    const roomIssue = roomProblem(room);
    if (roomIssue) return this.#error(session, frame.id, 'bad-room', roomIssue);
    const text = cleanText(frame.text);
    const textIssue = textProblem(text, this.#options.maxTextBytes);
    if (textIssue) return this.#error(session, frame.id, 'bad-text', textIssue);
    const identity = await this.#identify(session, normalizeName(frame.name), frame.password, frame.id);
    if (!identity) return;
    const draft = { from: identity.name, text, ...(frame.cid !== undefined ? { cid: frame.cid } : {}) };
    const message = await this.#options.bus.post(room, draft, { account: identity.account });
    if (!message) return this.#error(session, frame.id, 'name-taken', `${identity.name} is in the chat: only that member may speak under its name`);
    this.stats.messages++;
    this.#send(session, { type: 'posted', ...(frame.id !== undefined ? { id: frame.id } : {}), room, seq: message.seq, time: message.time });
  }

  async #join(session: Session, wanted: string, since: number | undefined, id: number | undefined): Promise<void> {
    const room = normalizeName(wanted);
    const problem = roomProblem(room);
    if (problem) return this.#error(session, id, 'bad-room', problem);
    const name = session.name!;
    if (room === session.room) return this.#sync(session, 'joined', since, id);
    const previous = session.room!;
    // Live messages of the new room are held from the moment the move is made.
    session.catchingUp = [];
    this.#detach(session);
    this.#attach(session, name, room);
    const moved = await this.#options.bus.move(name, session.owner, room);
    if (!moved.ok) {
      this.#detach(session);
      this.#attach(session, name, previous);
      session.catchingUp = undefined;
      this.#flushDeferred(session);
      return this.#error(session, id, 'full', 'too many rooms are open');
    }
    return this.#sync(session, 'joined', since, id);
  }

  /**
   * Send the welcome (or joined) frame, then the history the member is owed, then `synced`. Live
   * messages that arrive meanwhile are held in `catchingUp` and merged, so none is lost or sent twice.
   */
  async #sync(session: Session, kind: 'welcome' | 'joined', since: number | undefined, id: number | undefined): Promise<void> {
    const { bus } = this.#options;
    const room = session.room!;
    session.catchingUp ??= [];
    const [members, lastSeq] = await Promise.all([bus.members(room), bus.lastSeq(room)]);
    const page =
      since === undefined
        ? await bus.history(room, { limit: this.#options.historyOnJoin })
        : await bus.history(room, { after: since, limit: this.#options.maxCatchUp });
    if (session.connection.closed || session.room !== room) return;
    const withId = id !== undefined ? { id } : {};
    if (kind === 'welcome') {
      this.#send(session, { type: 'welcome', ...withId, v: PROTOCOL_VERSION, name: session.name!, room, account: session.account, members, lastSeq, token: session.token });
    } else {
      this.#send(session, { type: 'joined', ...withId, room, members, lastSeq });
    }
    const held = session.catchingUp;
    const overflow = session.heldOverflow;
    session.catchingUp = undefined;
    session.heldOverflow = false;
    const messages = mergeCatchUp(since ?? 0, page.messages, held);
    let last = Math.max(lastSeq, since ?? 0);
    let delivered = lastSeq;
    for (const message of messages) {
      this.#send(session, messageFrame(message));
      if (message.seq > last) last = message.seq;
      if (message.seq > delivered) delivered = message.seq;
    }
    session.delivered = delivered;
    this.#send(session, { type: 'synced', room, lastSeq: last, gap: (since !== undefined && !page.complete) || overflow });
    this.#flushDeferred(session);
  }

  /**
   * Keep a live message for a member whose catch-up is being read: at most `maxCatchUp` (the
   * newest), so a busy room and a slow store cannot fill memory; `synced` then reports a gap.
   */
  #hold(session: Session, held: ChatMessage[], message: ChatMessage): void {
    held.push(message);
    if (held.length > this.#options.maxCatchUp) {
      held.shift();
      session.heldOverflow = true;
    }
  }

  #flushDeferred(session: Session): void {
    const deferred = session.deferred;
    session.deferred = [];
    session.deferredBytes = 0;
    for (const frame of deferred) this.#queue(session, frame);
  }

  #allowed(session: Session, id: number | undefined): boolean {
    if (this.#limiter.take(session.owner)) return true;
    this.stats.rateLimited++;
    const now = Date.now();
    // One complaint a second at most: the complaint must not become the flood.
    if (now - session.lastRateError > 1_000) {
      session.lastRateError = now;
      this.#error(session, id, 'rate-limited', `slow down: at most ${this.#options.ratePerSecond} messages a second`);
    }
    return false;
  }

  #address(session: Session): string {
    return `${session.connection.remoteAddress}:${session.connection.remotePort}`;
  }

  #error(session: Session, id: number | undefined, code: ErrorCode, message: string, retryAfterMs?: number): void {
    this.#send(session, { type: 'error', ...(id !== undefined ? { id } : {}), code, message, ...(retryAfterMs !== undefined ? { retryAfterMs } : {}) });
  }

  // -- events from the room ---------------------------------------------------------------------

  #onEvent(event: RoomEvent): void {
    switch (event.type) {
      case 'message': {
        const members = this.#rooms.get(event.message.room);
        if (!members) return;
        this.#presence.flushRoom(event.message.room);
        const frame = encodeFrame(messageFrame(event.message));
        const seq = event.message.seq;
        for (const session of members) {
          if (session.catchingUp) this.#hold(session, session.catchingUp, event.message);
          else if (seq > session.delivered) {
            session.delivered = seq;
            this.#queue(session, frame);
          }
        }
        return;
      }
      case 'join':
      case 'leave':
        if (!this.#rooms.has(event.room)) return;
        this.#presence.add(event.room, event.type, event.member, event.type === 'leave' ? event.reason : undefined);
        return;
      case 'private': {
        const frame = encodeFrame({ type: 'pm', from: event.from, to: event.to, text: event.text, time: event.time });
        const to = this.#byName.get(event.to);
        if (to) this.#queueOrDefer(to, frame);
        const from = this.#byName.get(event.from);
        if (from && from !== to) this.#queueOrDefer(from, frame);
        return;
      }
    }
  }

  #deliverPresence(run: PresenceRun): void {
    const members = this.#rooms.get(run.room);
    if (!members) return;
    const changes = run.members.map((m) => ({ name: m.name, via: m.via, account: m.account, ...(run.reason !== undefined ? { reason: run.reason } : {}) }));
    const frame = encodeFrame({ type: 'presence', room: run.room, joined: run.kind === 'join' ? changes : [], left: run.kind === 'leave' ? changes : [] });
    for (const session of members) this.#queueOrDefer(session, frame);
  }

  // -- writing: one chunk per member per event-loop turn ----------------------------------------

  #send(session: Session, frame: ServerFrame): void {
    this.#queue(session, encodeFrame(frame));
  }

  #queueOrDefer(session: Session, frame: Buffer): void {
    if (!session.catchingUp) return this.#queue(session, frame);
    session.deferred.push(frame);
    session.deferredBytes += frame.length;
    // Presence and private messages held during a catch-up count against the same bound as unread ones.
    if (session.deferredBytes > this.#options.maxWriteQueueBytes) this.#dropSlow(session, session.deferredBytes);
  }

  #queue(session: Session, frame: Buffer): void {
    if (session.connection.closed) return;
    session.out.push(frame);
    session.outBytes += frame.length;
    this.stats.deliveries++;
    if (session.outBytes >= OUT_CHUNK_BYTES) {
      this.#flushSession(session);
      return;
    }
    this.#dirty.add(session);
    if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      setImmediate(() => this.#flush());
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    for (const session of this.#dirty) this.#flushSession(session);
    this.#dirty.clear();
  }

  /**
   * Write what a member is owed, unless it is not reading: a member still owing more than
   * `maxWriteQueueBytes` from earlier turns, or behind for longer than `slowReaderMs`, is dropped,
   * so that it costs the room neither time nor unbounded memory.
   */
  #flushSession(session: Session): void {
    if (session.out.length === 0) return;
    const out = session.out;
    session.out = [];
    session.outBytes = 0;
    const connection = session.connection;
    if (connection.closed) return;
    const behind = connection.writeQueueBytes;
    if (behind > this.#options.writeHighWaterBytes) {
      const now = Date.now();
      session.behindSince ??= now;
      if (behind > this.#options.maxWriteQueueBytes || now - session.behindSince > this.#options.slowReaderMs) {
        this.#dropSlow(session, behind);
        return;
      }
    } else {
      session.behindSince = undefined;
    }
    connection.write(out.length === 1 ? out[0]! : Buffer.concat(out));
  }

  #dropSlow(session: Session, behind: number): void {
    this.stats.slowDropped++;
    this.#options.logger.info({ connection: session.connection.id, name: session.name, behind }, 'chat member is not reading; disconnecting');
    session.deferred = [];
    session.deferredBytes = 0;
    session.connection.destroy();
  }
}
