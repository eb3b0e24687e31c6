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
import { MemberSession, MemberSessions, type MemberSessionsOptions } from './member-sessions.js';
import {
  FRAME_LENGTH_BYTES,
  PROTOCOL_VERSION,
  cleanText,
  decodeClientFrame,
  encodeFrame,
  nameProblem,
  normalizeName,
  roomProblem,
  textProblem,
  type ClientFrame,
  type ErrorCode,
  type ServerFrame,
} from './protocol.js';

export interface TcpFrontEndOptions extends MemberSessionsOptions {
  accounts: ChatAccounts;
  defaultRoom: string;
  host: string;
  port: number;
  maxFrameBytes: number;
  maxTextBytes: number;
  /** Most messages one `history` request returns. */
  historyLimit: number;
  /** `say` and `pm` per second per connection, and the burst allowed. */
  ratePerSecond: number;
  rateBurst: number;
  maxConnections: number;
  maxConnectionsPerIp: number;
  idleTimeoutMs: number;
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

class Session extends MemberSession<Buffer> {
  account = false;
  readonly owner: string;
  readonly token = randomBytes(16).toString('hex');
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

  constructor(readonly connection: Connection) {
    super();
    this.owner = `tcp:${connection.id}:${randomBytes(4).toString('hex')}`;
  }
}

export class TcpFrontEnd {
  readonly stats: TcpStats = { sessions: 0, messages: 0, badFrames: 0, rateLimited: 0, authFailures: 0, slowDropped: 0, readPauses: 0, deliveries: 0 };
  readonly #options: TcpFrontEndOptions;
  /** Names, rooms, room events and catch-ups: the rules shared with the WebSocket front end. */
  readonly #members: MemberSessions<Session, Buffer>;
  readonly #limiter: RateLimiter;
  readonly #dirty = new Set<Session>();
  #flushScheduled = false;
  #server!: StreamServer;
  #unsubscribe: (() => void) | undefined;
  #stopping = false;

  private constructor(options: TcpFrontEndOptions) {
    this.#options = options;
    this.#limiter = new RateLimiter({ ratePerSecond: options.ratePerSecond, burst: options.rateBurst });
    this.#members = new MemberSessions(options, {
      encode: encodeFrame,
      deliver: (session, frame) => this.#queue(session, frame),
      dropSlow: (session, behind) => this.#dropSlow(session, behind),
      gone: (session) => session.connection.closed,
    });
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
    front.#unsubscribe = options.bus.subscribe((event) => front.#members.onEvent(event));
    return front;
  }

  get addresses(): ListeningAddress[] {
    return this.#server.addresses;
  }

  get memberCount(): number {
    return this.#members.size;
  }

  async stop(deadlineMs?: number): Promise<void> {
    this.#stopping = true;
    this.#flush();
    await this.#server.stop(deadlineMs);
    this.#unsubscribe?.();
    this.#members.stop();
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
    this.#members.detach(session);
    if (!session.transferred) await this.#options.bus.release(name, session.owner, 'disconnected');
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
          this.#members.detach(session);
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
    const holder = this.#members.named(name);
    if (holder && frame.resume !== undefined && frame.resume === holder.token && holder !== session) {
      if (await bus.transfer(name, holder.owner, session.owner, { address: this.#address(session) })) {
        holder.transferred = true;
        this.#members.detach(holder);
        holder.name = undefined;
        holder.room = undefined;
        holder.connection.destroy();
        session.account = account || holder.account;
        // The room may differ from the one the old connection was in.
        const claimedRoom = (await bus.member(name))?.room ?? room;
        session.catchingUp = [];
        this.#members.attach(session, name, claimedRoom);
        if (claimedRoom !== room) {
          const moved = await bus.move(name, session.owner, room);
          if (moved.ok) {
            this.#members.detach(session);
            this.#members.attach(session, name, room);
          }
        }
        logger.debug({ name, connection: session.connection.id }, 'chat member resumed');
        return this.#sync(session, 'welcome', frame.since, frame.id);
      }
    }

    session.catchingUp = [];
    this.#members.attach(session, name, room);
    const claimed = await bus.claim({ name, room, via: 'tcp', account, address: this.#address(session) }, session.owner);
    if (!claimed.ok) {
      this.#members.detach(session);
      session.name = undefined;
      session.room = undefined;
      session.catchingUp = undefined;
      if (claimed.reason === 'taken') return this.#error(session, frame.id, 'name-taken', `${name} is already in the chat; choose another name`);
      return this.#error(session, frame.id, 'full', claimed.reason === 'full' ? 'the chat is full' : 'too many rooms are open');
    }
    session.account = account;
    if (session.connection.closed) {
      this.#members.detach(session);
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
    this.#members.detach(session);
    this.#members.attach(session, name, room);
    const moved = await this.#options.bus.move(name, session.owner, room);
    if (!moved.ok) {
      this.#members.detach(session);
      this.#members.attach(session, name, previous);
      session.catchingUp = undefined;
      this.#members.flushDeferred(session);
      return this.#error(session, id, 'full', 'too many rooms are open');
    }
    return this.#sync(session, 'joined', since, id);
  }

  /** The welcome (or joined) frame, then the catch-up owed (MemberSessions.sync). */
  async #sync(session: Session, kind: 'welcome' | 'joined', since: number | undefined, id: number | undefined): Promise<void> {
    const withId = id !== undefined ? { id } : {};
    await this.#members.sync(session, since, (room, members, lastSeq) => {
      if (kind === 'welcome') {
        this.#send(session, { type: 'welcome', ...withId, v: PROTOCOL_VERSION, name: session.name!, room, account: session.account, members, lastSeq, token: session.token });
      } else {
        this.#send(session, { type: 'joined', ...withId, room, members, lastSeq });
      }
    });
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

  // -- writing: one chunk per member per event-loop turn ----------------------------------------

  #send(session: Session, frame: ServerFrame): void {
    this.#queue(session, encodeFrame(frame));
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
    if (this.#members.droppedAsSlow(session, connection.writeQueueBytes)) return;
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
