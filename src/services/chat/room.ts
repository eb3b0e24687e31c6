/**
 * The room state every front end (the seed's UDP, wharf's TCP) shares, behind one interface.
 *
 * `RoomBus` is the seam for running the chat on several nodes: `InProcessRoomBus` keeps names,
 * members, sequence numbers and recent history in this process; `RedisRoomBus` (redis-bus.ts,
 * `--redis`) keeps them in Redis for every process and machine that shares it. Everything a front
 * end needs goes through these methods, which are asynchronous for that reason, and every event
 * reaches the front ends through `subscribe`.
 * A front end holds only its own sockets: it delivers an event to the members it hosts.
 */
import type { Logger } from '../../core/logger.js';
import { HistoryWriter, type HistoryStore } from './history.js';
import { mergeCatchUp, nameKey, selectRange, type ChatMessage, type LeaveReason, type MemberSummary, type MessageKind, type Transport } from './protocol.js';

export interface MemberInfo {
  name: string;
  room: string;
  via: Transport;
  /** Logged in with a wharf account. */
  account: boolean;
  /** `ip:port`, for logs and the per-address limits. */
  address: string;
}

export type RoomEvent =
  | { type: 'message'; message: ChatMessage }
  | { type: 'join'; room: string; member: MemberInfo }
  | { type: 'leave'; room: string; member: MemberInfo; reason: LeaveReason }
  | { type: 'private'; from: string; to: string; text: string; time: number };

export type ClaimResult = { ok: true } | { ok: false; reason: 'taken' | 'full' | 'too-many-rooms' };

export interface HistoryQuery {
  /** Only messages after this sequence number (default 0). */
  after?: number;
  /** Only messages before this sequence number (default: up to the newest). */
  before?: number;
  /** At most this many: the newest ones. */
  limit: number;
}

export interface HistoryPage {
  messages: ChatMessage[];
  /** True when every message in the range asked for is in `messages` (else older ones were cut). */
  complete: boolean;
}

export interface RoomBus {
  /**
   * True when other processes share the room (Redis): with `--workers`, a seed member's
   * datagrams may reach a sibling worker, which speaks for it under the same owner.
   */
  readonly shared?: boolean;
  /**
   * Give `member.name` to `owner` (a front end's handle for one client) and put it in
   * `member.room`; the room hears a `join`. Fails when the name is in use in any
   * case or compatibility form (`nameKey`: `Alice` while `alice` is here).
   */
  claim(member: MemberInfo, owner: string): Promise<ClaimResult>;
  /** Hand a name over to a new owner (a client that reconnected) without a leave and a join. */
  transfer(name: string, fromOwner: string, toOwner: string, changes?: Partial<Pick<MemberInfo, 'address' | 'via'>>): Promise<boolean>;
  /** Free the name; its room hears a `leave`. Does nothing unless `owner` holds it. */
  release(name: string, owner: string, reason: LeaveReason): Promise<void>;
  /** Move a member to another room: `leave` (moved) in the old one, `join` in the new one. */
  move(name: string, owner: string, room: string): Promise<ClaimResult>;
  /** Who owns `name` now, if anyone. */
  owner(name: string): Promise<string | undefined>;
  member(name: string): Promise<MemberInfo | undefined>;
  members(room: string): Promise<MemberSummary[]>;
  /** Rooms that have members now. */
  rooms(): Promise<string[]>;
  /**
   * Number a message, keep it in the history and deliver it to the room. A `chat` message is
   * accepted only from a member of the room held by `owner`; undefined when refused.
   */
  publish(room: string, draft: { kind: MessageKind; from: string; text: string; cid?: string }, owner?: string): Promise<ChatMessage | undefined>;
  /**
   * Number and deliver a `chat` message from a name that is not a member (a one-shot post): no
   * join, no leave. Refused (undefined) while a member holds the name in any case or form,
   * unless `account` (the sender proved it owns the name with its password).
   */
  post(room: string, draft: { from: string; text: string; cid?: string }, options: { account: boolean }): Promise<ChatMessage | undefined>;
  /** Deliver a private message; false when `to` is not here. */
  sendPrivate(from: string, to: string, text: string, owner: string): Promise<boolean>;
  history(room: string, query: HistoryQuery): Promise<HistoryPage>;
  lastSeq(room: string): Promise<number>;
  /** Every event of every room, in order. Returns the unsubscribe function. */
  subscribe(listener: (event: RoomEvent) => void): () => void;
  /** Write what is pending and stop. */
  close(): Promise<void>;
}

export interface InProcessRoomBusOptions {
  history: HistoryStore;
  logger?: Logger;
  /** Names held at once, over every room and front end. */
  maxMembers?: number;
  /** Rooms with members at once. */
  maxRooms?: number;
  /** Messages per room kept in memory, so joins and catch-ups rarely read the store. */
  recentPerRoom?: number;
  /** Messages waiting to be written before new ones are kept in memory only (and logged). */
  maxPendingWrites?: number;
  now?: () => number;
}

/** A bus's subscribers: every event reaches each, in order; one that throws is logged, not fatal. */
export class RoomListeners {
  readonly #listeners = new Set<(event: RoomEvent) => void>();
  constructor(readonly logger: Logger | undefined) {}

  subscribe(listener: (event: RoomEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: RoomEvent): void {
    for (const listener of this.#listeners) {
      try {
        listener(event);
      } catch (error) {
        this.logger?.error({ err: error }, 'chat event listener threw');
      }
    }
  }

  clear(): void {
    this.#listeners.clear();
  }
}

interface RoomState {
  name: string;
  members: Set<string>;
  lastSeq: number;
  /** The newest messages, ascending by seq. */
  recent: ChatMessage[];
}

interface Holder {
  info: MemberInfo;
  owner: string;
}

/**
 * The room in this process. Events are delivered synchronously, in order, before the promise
 * of the call that caused them resolves, so a front end that subscribed before asking for
 * history never misses a message (and `mergeCatchUp` removes what it sees twice).
 */
export class InProcessRoomBus implements RoomBus {
  readonly #names = new Map<string, Holder>();
  /** The key of every held name (`nameKey`): `Alice` is taken while `alice` is here. */
  readonly #keys = new Set<string>();
  readonly #rooms = new Map<string, RoomState>();
  readonly #loading = new Map<string, Promise<RoomState>>();
  readonly #listeners: RoomListeners;
  readonly #history: HistoryStore;
  readonly #logger: Logger | undefined;
  readonly #maxMembers: number;
  readonly #maxRooms: number;
  readonly #recentPerRoom: number;
  readonly #writer: HistoryWriter;
  readonly #now: () => number;

  constructor(options: InProcessRoomBusOptions) {
    this.#history = options.history;
    this.#logger = options.logger;
    this.#listeners = new RoomListeners(options.logger);
    this.#maxMembers = options.maxMembers ?? 10_000;
    this.#maxRooms = options.maxRooms ?? 1_000;
    this.#recentPerRoom = options.recentPerRoom ?? 1_000;
    this.#writer = new HistoryWriter(options.history, { logger: options.logger, maxPending: options.maxPendingWrites ?? 100_000 });
    this.#now = options.now ?? Date.now;
  }

  /** Load a room's numbering now (the default room at start), so its first message need not wait. */
  async open(room: string): Promise<void> {
    await this.#room(room);
  }

  subscribe(listener: (event: RoomEvent) => void): () => void {
    return this.#listeners.subscribe(listener);
  }

  #emit(event: RoomEvent): void {
    this.#listeners.emit(event);
  }

  async claim(member: MemberInfo, owner: string): Promise<ClaimResult> {
    const key = nameKey(member.name);
    if (this.#keys.has(key)) return { ok: false, reason: 'taken' };
    if (this.#names.size >= this.#maxMembers) return { ok: false, reason: 'full' };
    if (!this.#rooms.has(member.room) && this.#activeRooms() >= this.#maxRooms) return { ok: false, reason: 'too-many-rooms' };
    const room = await this.#room(member.room);
    // Checked again: another claim may have won while the room was loading.
    if (this.#keys.has(key)) return { ok: false, reason: 'taken' };
    if (this.#names.size >= this.#maxMembers) return { ok: false, reason: 'full' };
    const info = { ...member };
    this.#names.set(info.name, { info, owner });
    this.#keys.add(key);
    room.members.add(info.name);
    this.#emit({ type: 'join', room: info.room, member: info });
    return { ok: true };
  }

  async transfer(name: string, fromOwner: string, toOwner: string, changes: Partial<Pick<MemberInfo, 'address' | 'via'>> = {}): Promise<boolean> {
    const holder = this.#names.get(name);
    if (!holder || holder.owner !== fromOwner) return false;
    holder.owner = toOwner;
    if (changes.address !== undefined) holder.info.address = changes.address;
    if (changes.via !== undefined) holder.info.via = changes.via;
    return true;
  }

  async release(name: string, owner: string, reason: LeaveReason): Promise<void> {
    const holder = this.#names.get(name);
    if (!holder || holder.owner !== owner) return;
    this.#names.delete(name);
    this.#keys.delete(nameKey(name));
    const room = this.#rooms.get(holder.info.room);
    room?.members.delete(name);
    this.#emit({ type: 'leave', room: holder.info.room, member: holder.info, reason });
  }

  async move(name: string, owner: string, roomName: string): Promise<ClaimResult> {
    const holder = this.#names.get(name);
    if (!holder || holder.owner !== owner) return { ok: false, reason: 'taken' };
    if (holder.info.room === roomName) return { ok: true };
    if (!this.#rooms.has(roomName) && this.#activeRooms() >= this.#maxRooms) return { ok: false, reason: 'too-many-rooms' };
    const target = await this.#room(roomName);
    if (this.#names.get(name) !== holder) return { ok: false, reason: 'taken' };
    const old = this.#rooms.get(holder.info.room);
    old?.members.delete(name);
    this.#emit({ type: 'leave', room: holder.info.room, member: { ...holder.info }, reason: 'moved' });
    holder.info.room = roomName;
    target.members.add(name);
    this.#emit({ type: 'join', room: roomName, member: holder.info });
    return { ok: true };
  }

  async owner(name: string): Promise<string | undefined> {
    return this.#names.get(name)?.owner;
  }

  async member(name: string): Promise<MemberInfo | undefined> {
    const holder = this.#names.get(name);
    return holder ? { ...holder.info } : undefined;
  }

  async members(roomName: string): Promise<MemberSummary[]> {
    const room = this.#rooms.get(roomName);
    if (!room) return [];
    const list: MemberSummary[] = [];
    for (const name of room.members) {
      const info = this.#names.get(name)?.info;
      if (info) list.push({ name, via: info.via, account: info.account });
    }
    return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async rooms(): Promise<string[]> {
    return [...this.#rooms.values()].filter((r) => r.members.size > 0).map((r) => r.name);
  }

  async publish(roomName: string, draft: { kind: MessageKind; from: string; text: string; cid?: string }, owner?: string): Promise<ChatMessage | undefined> {
    if (draft.kind === 'chat') {
      const holder = this.#names.get(draft.from);
      if (!holder || holder.owner !== owner || holder.info.room !== roomName) return undefined;
    }
    return this.#append(roomName, draft);
  }

  async post(roomName: string, draft: { from: string; text: string; cid?: string }, options: { account: boolean }): Promise<ChatMessage | undefined> {
    if (!options.account && this.#keys.has(nameKey(draft.from))) return undefined;
    return this.#append(roomName, { kind: 'chat', ...draft });
  }

  async #append(roomName: string, draft: { kind: MessageKind; from: string; text: string; cid?: string }): Promise<ChatMessage> {
    const room = this.#rooms.get(roomName) ?? (await this.#room(roomName));
    const message: ChatMessage = { room: roomName, seq: ++room.lastSeq, kind: draft.kind, from: draft.from, text: draft.text, time: this.#now() };
    if (draft.cid !== undefined) message.cid = draft.cid;
    room.recent.push(message);
    if (room.recent.length > this.#recentPerRoom) room.recent.splice(0, room.recent.length - this.#recentPerRoom);
    this.#writer.write(message);
    this.#emit({ type: 'message', message });
    return message;
  }

  async sendPrivate(from: string, to: string, text: string, owner: string): Promise<boolean> {
    const sender = this.#names.get(from);
    if (!sender || sender.owner !== owner) return false;
    if (!this.#names.has(to)) return false;
    this.#emit({ type: 'private', from, to, text, time: this.#now() });
    return true;
  }

  async lastSeq(roomName: string): Promise<number> {
    return (this.#rooms.get(roomName) ?? (await this.#room(roomName))).lastSeq;
  }

  async history(roomName: string, query: HistoryQuery): Promise<HistoryPage> {
    const room = this.#rooms.get(roomName) ?? (await this.#room(roomName));
    const after = query.after ?? 0;
    const before = query.before ?? Number.MAX_SAFE_INTEGER;
    const limit = Math.max(0, query.limit);
    const fromMemory = selectRange(room.recent, after, before, limit);
    const firstInMemory = room.recent[0]?.seq ?? room.lastSeq + 1;
    const wanted = Math.min(before - 1, room.lastSeq) - after;
    let messages = fromMemory;
    // Memory holds everything from firstInMemory on: the store is read only for older messages.
    if (fromMemory.length < limit && wanted > fromMemory.length && after + 1 < firstInMemory) {
      await this.flushed();
      try {
        const older = await this.#history.range(roomName, after, Math.min(before, firstInMemory), limit - fromMemory.length);
        messages = mergeCatchUp(after, older, fromMemory);
      } catch (error) {
        this.#logger?.warn({ err: error, room: roomName }, 'could not read the chat history');
      }
    }
    if (messages.length > limit) messages = messages.slice(messages.length - limit);
    const upTo = Math.min(before - 1, room.lastSeq);
    const complete = upTo <= after || (messages.length > 0 && messages[0]!.seq === after + 1 && messages.length === upTo - after);
    return { messages, complete };
  }

  /** Resolves once every message published so far is in the history store (or failed to get there). */
  async flushed(): Promise<void> {
    await this.#writer.flushed();
  }

  /** Messages not written to the history store (it failed, or too many were waiting). */
  get historyWriteFailures(): number {
    return this.#writer.failures;
  }

  async close(): Promise<void> {
    await this.flushed();
    this.#listeners.clear();
  }

  #activeRooms(): number {
    let count = 0;
    for (const room of this.#rooms.values()) if (room.members.size > 0) count++;
    return count;
  }

  async #room(name: string): Promise<RoomState> {
    const ready = this.#rooms.get(name);
    if (ready) return ready;
    let loading = this.#loading.get(name);
    if (!loading) {
      loading = (async () => {
        // A room forgotten while its last messages were still being written: wait for them,
        // or the numbering would start again below them.
        await this.flushed();
        let lastSeq = 0;
        try {
          lastSeq = await this.#history.lastSeq(name);
        } catch (error) {
          this.#logger?.warn({ err: error, room: name }, 'could not read the chat history; numbering continues from what memory holds');
        }
        const state: RoomState = { name, members: new Set(), lastSeq, recent: [] };
        this.#forgetIdleRooms();
        this.#rooms.set(name, state);
        this.#loading.delete(name);
        return state;
      })();
      this.#loading.set(name, loading);
    }
    return loading;
  }

  /**
   * Empty rooms are forgotten once there are many (their history stays in the store), so memory
   * does not grow with every room ever used.
   */
  #forgetIdleRooms(): void {
    if (this.#rooms.size < 2 * this.#maxRooms) return;
    for (const [name, room] of this.#rooms) if (room.members.size === 0) this.#rooms.delete(name);
  }
}
