/**
 * What the chat's connection front ends (TCP in tcp-front-end.ts, WebSocket in
 * portal/web-front-end.ts) do alike for their members: who is in which room, how room events
 * reach a member, how a catch-up holds live messages and merges them with the history, and when
 * a member that does not read is dropped. Written once here so that a delivery rule cannot differ
 * between the two; each front end keeps its wire encoding, its writing and its closing.
 */
import { PresenceBatcher, type PresenceRun } from './presence.js';
import { mergeCatchUp, messageFrame, type ChatMessage, type MemberSummary, type ServerFrame } from './protocol.js';
import type { RoomBus, RoomEvent } from './room.js';

/** The delivery state of one member, extended by each front end with its connection's own. */
export class MemberSession<Out> {
  name: string | undefined;
  room: string | undefined;
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
  deferred: Out[] = [];
  deferredBytes = 0;
  /** When this member's unsent bytes went above the high-water mark (undefined: not behind). */
  behindSince: number | undefined;
}

/** How one front end puts a frame on its wire; `Out` is an encoded frame (a Buffer, a JSON text). */
export interface MemberTransport<S, Out extends { length: number }> {
  encode(frame: ServerFrame): Out;
  /** Send (or queue) an encoded frame to a member, subject to the front end's own checks. */
  deliver(session: S, out: Out): void;
  /** Cut a member that is not reading; `behind` is how many bytes it owes. */
  dropSlow(session: S, behind: number): void;
  /** The member's connection is gone (or handed over): a catch-up read for it is not sent. */
  gone(session: S): boolean;
}

/** The settings of both front ends that the shared rules read. */
export interface MemberSessionsOptions {
  bus: RoomBus;
  /** Messages sent to a member who joins without `since`. */
  historyOnJoin: number;
  /** Most messages one catch-up sends (the newest ones; older ones are reported as a gap). */
  maxCatchUp: number;
  /** Unsent bytes (TCP: queued on the socket; WebSocket: `bufferedAmount`) above which a member counts as behind. */
  writeHighWaterBytes: number;
  /** A member further behind than this is dropped (TCP: checked at the end of an event-loop turn). */
  maxWriteQueueBytes: number;
  /** A member behind (above the high-water mark) for this long is dropped. */
  slowReaderMs: number;
}

export class MemberSessions<S extends MemberSession<Out>, Out extends { length: number }> {
  readonly #options: MemberSessionsOptions;
  readonly #transport: MemberTransport<S, Out>;
  readonly #byName = new Map<string, S>();
  readonly #rooms = new Map<string, Set<S>>();
  readonly #presence: PresenceBatcher;

  constructor(options: MemberSessionsOptions, transport: MemberTransport<S, Out>) {
    this.#options = options;
    this.#transport = transport;
    this.#presence = new PresenceBatcher((run) => this.#deliverPresence(run));
  }

  get size(): number {
    return this.#byName.size;
  }

  named(name: string): S | undefined {
    return this.#byName.get(name);
  }

  stop(): void {
    this.#presence.stop();
  }

  // -- membership -------------------------------------------------------------------------------

  /** Forget a session's name and room here (the bus is told separately); its fields stay as they are. */
  detach(session: S): void {
    const { name, room } = session;
    if (name !== undefined && this.#byName.get(name) === session) this.#byName.delete(name);
    if (room !== undefined) {
      const members = this.#rooms.get(room);
      members?.delete(session);
      if (members?.size === 0) this.#rooms.delete(room);
    }
  }

  attach(session: S, name: string, room: string): void {
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

  // -- catch-up ---------------------------------------------------------------------------------

  /**
   * Send the opening frame (welcome or joined, by `open`), then the history the member is owed
   * (after `since`, or the last `historyOnJoin`), then `synced`. Live messages that arrive
   * meanwhile are held in `catchingUp` and merged, so none is lost or sent twice.
   */
  async sync(session: S, since: number | undefined, open: (room: string, members: MemberSummary[], lastSeq: number) => void): Promise<void> {
    const { bus } = this.#options;
    const room = session.room!;
    session.catchingUp ??= [];
    const [members, lastSeq] = await Promise.all([bus.members(room), bus.lastSeq(room)]);
    const page =
      since === undefined
        ? await bus.history(room, { limit: this.#options.historyOnJoin })
        : await bus.history(room, { after: since, limit: this.#options.maxCatchUp });
    if (this.#transport.gone(session) || session.room !== room) return;
    open(room, members, lastSeq);
    const held = session.catchingUp;
    const overflow = session.heldOverflow;
    session.catchingUp = undefined;
    session.heldOverflow = false;
    let last = Math.max(lastSeq, since ?? 0);
    let delivered = lastSeq;
    for (const message of mergeCatchUp(since ?? 0, page.messages, held)) {
      this.#send(session, messageFrame(message));
      last = Math.max(last, message.seq);
      delivered = Math.max(delivered, message.seq);
    }
    session.delivered = delivered;
    this.#send(session, { type: 'synced', room, lastSeq: last, gap: (since !== undefined && !page.complete) || overflow });
    this.flushDeferred(session);
  }

  /** Send what was held back during a catch-up (it ended, or it was given up). */
  flushDeferred(session: S): void {
    const deferred = session.deferred;
    session.deferred = [];
    session.deferredBytes = 0;
    for (const out of deferred) this.#transport.deliver(session, out);
  }

  /**
   * Keep a live message for a member whose catch-up is being read: at most `maxCatchUp` (the
   * newest), so a busy room and a slow store cannot fill memory; `synced` then reports a gap.
   */
  #hold(session: S, held: ChatMessage[], message: ChatMessage): void {
    held.push(message);
    if (held.length > this.#options.maxCatchUp) {
      held.shift();
      session.heldOverflow = true;
    }
  }

  // -- events from the room ---------------------------------------------------------------------

  onEvent(event: RoomEvent): void {
    switch (event.type) {
      case 'message': {
        const members = this.#rooms.get(event.message.room);
        if (!members) return;
        this.#presence.flushRoom(event.message.room);
        const out = this.#transport.encode(messageFrame(event.message));
        const seq = event.message.seq;
        for (const session of members) {
          if (session.catchingUp) this.#hold(session, session.catchingUp, event.message);
          else if (seq > session.delivered) {
            session.delivered = seq;
            this.#transport.deliver(session, out);
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
        const out = this.#transport.encode({ type: 'pm', from: event.from, to: event.to, text: event.text, time: event.time });
        const to = this.#byName.get(event.to);
        if (to) this.#deliverOrDefer(to, out);
        const from = this.#byName.get(event.from);
        if (from && from !== to) this.#deliverOrDefer(from, out);
        return;
      }
    }
  }

  #deliverPresence(run: PresenceRun): void {
    const members = this.#rooms.get(run.room);
    if (!members) return;
    const changes = run.members.map((m) => ({ name: m.name, via: m.via, account: m.account, ...(run.reason !== undefined ? { reason: run.reason } : {}) }));
    const out = this.#transport.encode({ type: 'presence', room: run.room, joined: run.kind === 'join' ? changes : [], left: run.kind === 'leave' ? changes : [] });
    for (const session of members) this.#deliverOrDefer(session, out);
  }

  // -- sending and slow readers -----------------------------------------------------------------

  #send(session: S, frame: ServerFrame): void {
    this.#transport.deliver(session, this.#transport.encode(frame));
  }

  #deliverOrDefer(session: S, out: Out): void {
    if (!session.catchingUp) return this.#transport.deliver(session, out);
    session.deferred.push(out);
    session.deferredBytes += out.length;
    // Presence and private messages held during a catch-up count against the same bound as unread ones.
    if (session.deferredBytes > this.#options.maxWriteQueueBytes) this.#transport.dropSlow(session, session.deferredBytes);
  }

  /**
   * Whether a member owing `behind` bytes is dropped (and it is, by the transport): one owing more
   * than `maxWriteQueueBytes`, or behind (over the high-water mark) for longer than `slowReaderMs`,
   * so that it costs the room neither time nor unbounded memory.
   */
  droppedAsSlow(session: S, behind: number): boolean {
    if (behind <= this.#options.writeHighWaterBytes) {
      session.behindSince = undefined;
      return false;
    }
    const now = Date.now();
    session.behindSince ??= now;
    if (behind <= this.#options.maxWriteQueueBytes && now - session.behindSince <= this.#options.slowReaderMs) return false;
    this.#transport.dropSlow(session, behind);
    return true;
  }
}
