/**
 * The room shared by several wharf processes and machines, through Redis (`--redis URL`). Every
 * node (one `wharf chat serve` process, or one of its `--workers`) holds only its own sockets;
 * the name directory, the rooms, the sequence numbers and the recent history live in Redis (see
 * redis-lua.ts for the keys), and every message, join and leave reaches every node on one
 * pub/sub channel, in sequence order. The durable history stays in the store: each node writes
 * the messages it numbered, so every message is written once.
 *
 * A node holds a lease (a score in `P nodes`) that it renews every `leaseMs / 3`; every node
 * sweeps for ended leases as often, so a node killed with `kill -9` loses its names, and the
 * rooms hear each one leave, within `leaseMs + leaseMs / 3` (`presenceBoundMs`).
 *
 * Redis going away: commands wait in the client's queue (at most `maxQueuedCommands`) and run in
 * order when it returns, so what members say during a short outage is delivered then, numbered,
 * once (a retry only while Redis still remembers the attempt: RETRY_WINDOW_MS). Pub/sub loses
 * what is published while a node's subscription is down: the node notices the gap in the
 * sequence numbers (or re-reads every room it follows, up to its current number, when it
 * reconnects) and fills it page by page, from the store for what the stream no longer holds and
 * then from the stream, and drops what it has already delivered, so nothing arrives twice or
 * out of order. One line is logged when Redis goes away and one when it is back.
 */
import { createHash, randomBytes } from 'node:crypto';
import { createClient, ErrorReply, TimeoutError } from 'redis';
import { WharfError } from '../../core/errors.js';
import type { Logger } from '../../core/logger.js';
import { HistoryWriter, type HistoryStore } from './history.js';
import { mergeCatchUp, nameKey, type ChatMessage, type LeaveReason, type MemberSummary, type MessageKind } from './protocol.js';
import { APPEND, CLAIM, MOVE, REAP, REFRESH, RELEASE, TRANSFER } from './redis-lua.js';
import { RoomListeners, type ClaimResult, type HistoryPage, type HistoryQuery, type MemberInfo, type RoomBus, type RoomEvent } from './room.js';

export interface RedisRoomBusOptions {
  /** `redis://[user:password@]host:port[/db]` (or `rediss://` for TLS). */
  url: string;
  history: HistoryStore;
  logger: Logger;
  /** Every key and channel starts with this, so deployments (and tests) can share one Redis. */
  keyPrefix?: string;
  /** How long a node's names outlive its last lease renewal. */
  leaseMs?: number;
  /** Messages per room kept in the Redis stream (approximately: `MAXLEN ~`). */
  recentPerRoom?: number;
  maxMembers?: number;
  maxRooms?: number;
  maxPendingWrites?: number;
  /** How long the start waits for Redis. */
  connectTimeoutMs?: number;
  /** Commands held while Redis is away; past this, requests fail at once. */
  maxQueuedCommands?: number;
  /** Messages held while a gap is filled (more are dropped and read again after it). */
  maxInbox?: number;
  /** The longest a gap fill may pause delivery before it is abandoned and tried again. */
  fillTimeoutMs?: number;
  now?: () => number;
}

type Client = ReturnType<typeof createClient>;

interface StoredMember extends MemberInfo {
  owner: string;
  node: string;
}

type Incoming = { kind: 'message'; message: ChatMessage } | { kind: 'event'; event: RoomEvent } | { kind: 'resync' };

const DEFAULT_LEASE_MS = 9_000;
/** A command the connection dropped under is sent again this many times (after 50 ms, doubling to 1 s). */
const RETRIES = 8;
/** Both connections up for this long ends an outage. */
const OUTAGE_SETTLE_MS = 500;
/** How long Redis remembers which number a message got, for a retry to find it. */
const ATTEMPT_MEMORY_MS = 15_000;
/**
 * A message's retry is sent only this long after its first send: then it reaches Redis while the
 * attempt's key (set when the first send ran, so later than it was sent) still answers, with
 * 3 s to spare for the way there. Later, its outcome is unknown (EREDIS): the other way, keeping
 * the keys longer than any retry can wait, has no bound, since the client's offline queue holds a
 * command for as long as Redis is away; and a key per message for minutes costs Redis memory at
 * every message rate. A wharf client says again by cid what it never saw numbered.
 */
const RETRY_WINDOW_MS = ATTEMPT_MEMORY_MS - 3_000;
/** Messages waiting in the inbox while a fill runs; more are dropped and read again after it. */
const DEFAULT_MAX_INBOX = 10_000;
/** The longest a fill may pause delivery; and how soon an abandoned one is tried again. */
const DEFAULT_FILL_TIMEOUT_MS = 10_000;
const FILL_RETRY_MS = 1_000;
/** The most messages per room a node catches up on live after a gap. */
const MAX_FILL = 10_000;

/** The bound a lease gives: a dead node's members have left within this. */
export function presenceBoundMs(leaseMs: number): number {
  return leaseMs + Math.ceil(leaseMs / 3);
}

/** The URL without its password, for logs. */
export function redactedRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    return parsed.toString();
  } catch {
    return 'the Redis URL';
  }
}

export class RedisRoomBus implements RoomBus {
  /** This node's name in Redis: random per process. */
  readonly node = randomBytes(8).toString('hex');
  readonly shared = true;
  readonly leaseMs: number;
  readonly #options: RedisRoomBusOptions;
  readonly #prefix: string;
  readonly #cmd: Client;
  readonly #sub: Client;
  readonly #logger: Logger;
  readonly #writer: HistoryWriter;
  readonly #listeners: RoomListeners;
  /** The names this node's front ends hold, by name. */
  readonly #held = new Map<string, StoredMember>();
  /** The highest sequence number delivered here, per room: what is at or below it is a duplicate. */
  readonly #delivered = new Map<string, number>();
  readonly #inbox: Incoming[] = [];
  readonly #now: () => number;
  readonly #url: string;
  #pumping = false;
  /** Bumped when a fill is abandoned: that fill delivers nothing more. */
  #fillGeneration = 0;
  #fillFailing = false;
  #overflowed = false;
  #appends = 0;
  #leaseTimer: NodeJS.Timeout | undefined;
  #leaseBusy = false;
  #outage = false;
  #backTimer: NodeJS.Timeout | undefined;
  #subscriberWasDown = false;
  #closed = false;
  /** close() has begun: a lease round under way must not register this node again. */
  #closing = false;
  /** Messages delivered here that the sequence numbers showed to be duplicates (dropped). */
  duplicatesDropped = 0;
  /** Messages fetched from the stream to fill a gap in what pub/sub delivered. */
  gapsFilled = 0;

  private constructor(options: RedisRoomBusOptions) {
    this.#options = options;
    this.#prefix = options.keyPrefix ?? 'wharf:chat:';
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#url = redactedRedisUrl(options.url);
    this.leaseMs = options.leaseMs ?? DEFAULT_LEASE_MS;
    this.#listeners = new RoomListeners(options.logger);
    this.#writer = new HistoryWriter(options.history, { logger: options.logger, maxPending: options.maxPendingWrites ?? 100_000 });
    const clientOptions = (role: string) => ({
      url: options.url,
      name: `wharf-chat:${this.#prefix}:${this.node}:${role}`,
      commandsQueueMaxLength: options.maxQueuedCommands ?? 20_000,
      socket: {
        // 50 ms doubling to 2 s, with jitter so that nodes do not all knock at once.
        reconnectStrategy: (retries: number) => Math.min(50 * 2 ** Math.min(retries, 6), 2_000) + Math.floor(Math.random() * 100),
        connectTimeout: options.connectTimeoutMs ?? 5_000,
      },
    });
    this.#cmd = createClient(clientOptions('cmd'));
    // Pub/sub takes a connection of its own: a subscribed connection runs no other commands.
    this.#sub = createClient(clientOptions('sub'));
    for (const client of [this.#cmd, this.#sub]) {
      client.on('error', (error: Error) => this.#down(error));
      client.on('ready', () => this.#up());
    }
    this.#sub.on('error', () => (this.#subscriberWasDown = true));
    this.#sub.on('ready', () => {
      if (!this.#subscriberWasDown) return;
      this.#subscriberWasDown = false;
      // Whatever was published while the subscription was down is in the streams.
      this.#receive({ kind: 'resync' });
    });
  }

  /** Connect, subscribe and take a lease; one clear error when Redis cannot be reached in time. */
  static async connect(options: RedisRoomBusOptions): Promise<RedisRoomBus> {
    const bus = new RedisRoomBus(options);
    const timeoutMs = options.connectTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        (async () => {
          await Promise.all([bus.#cmd.connect(), bus.#sub.connect()]);
          await bus.#sub.subscribe([bus.#channel, bus.#nodeChannel(bus.node)], (text) => bus.#onChannel(text));
          await bus.#refresh(true);
        })(),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error(`no answer in ${timeoutMs / 1000} s`)), timeoutMs);
        }),
      ]);
    } catch (error) {
      bus.#closed = true;
      bus.#cmd.destroy();
      bus.#sub.destroy();
      throw new WharfError('EREDIS', `cannot reach Redis at ${bus.#url}: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
    }
    bus.#leaseTimer = setInterval(() => void bus.#tendLeases(), Math.max(100, Math.floor(bus.leaseMs / 3)));
    bus.#leaseTimer.unref();
    return bus;
  }

  get #fillTimeoutMs(): number {
    return this.#options.fillTimeoutMs ?? DEFAULT_FILL_TIMEOUT_MS;
  }

  get #channel(): string {
    return `${this.#prefix}events`;
  }

  #nodeChannel(node: string): string {
    return `${this.#prefix}to:${node}`;
  }

  #key(name: string): string {
    return `${this.#prefix}${name}`;
  }

  // -- connection state -------------------------------------------------------------------------

  #down(error: Error): void {
    clearTimeout(this.#backTimer);
    this.#backTimer = undefined;
    if (this.#outage || this.#closed) return;
    this.#outage = true;
    this.#logger.warn({ err: error, redis: this.#url }, `Redis at ${this.#url} is unreachable (${error.message}); the chat between nodes waits for it, retrying`);
  }

  /**
   * Back once both connections are, and stay so for a moment: one connection often recovers
   * before the other has noticed the cut, and that is still one outage (one line each way).
   */
  #up(): void {
    if (!this.#outage || !this.#cmd.isReady || !this.#sub.isReady || this.#backTimer) return;
    this.#backTimer = setTimeout(() => {
      this.#backTimer = undefined;
      if (!this.#cmd.isReady || !this.#sub.isReady) return;
      this.#outage = false;
      this.#logger.info({ redis: this.#url }, `Redis at ${this.#url} is back; the chat between nodes goes on`);
    }, OUTAGE_SETTLE_MS);
    this.#backTimer.unref();
  }

  /**
   * Run a script by its SHA1 (EVALSHA: a few bytes a call, not the whole script), sending the
   * script itself only when Redis does not have it yet (NOSCRIPT: it did not run, so this is safe).
   * `sendTimeoutMs`: the longest the command may wait to be sent (it is never sent after that).
   */
  async #eval(script: string, keys: string[], args: Array<string | number>, sendTimeoutMs?: number): Promise<unknown> {
    const options = sendTimeoutMs === undefined ? undefined : { timeout: Math.max(1, Math.floor(sendTimeoutMs)) };
    const rest = [String(keys.length), ...keys, ...args.map(String)];
    try {
      return await this.#cmd.sendCommand(['EVALSHA', scriptSha(script), ...rest], options);
    } catch (error) {
      if (!(error instanceof ErrorReply) || !error.message.startsWith('NOSCRIPT')) throw error;
      return this.#cmd.sendCommand(['EVAL', script, ...rest], options);
    }
  }

  /**
   * A script whose connection dropped before it answered may or may not have run: it is sent
   * again once Redis is back. Only for scripts that are safe to repeat (a release or a claim is
   * checked against its owner); a message carries the key of its attempt, which Redis remembers
   * only for a while: `withinMs` bounds when a retry may still be sent (RETRY_WINDOW_MS).
   */
  async #evalRetrying(script: string, keys: string[], args: Array<string | number>, withinMs?: number): Promise<unknown> {
    const deadline = performance.now() + (withinMs ?? Number.POSITIVE_INFINITY);
    for (let attempt = 0; ; attempt++) {
      const left = deadline - performance.now();
      if (attempt > 0 && left <= 0) throw outcomeUnknown(withinMs ?? 0);
      try {
        return await this.#eval(script, keys, args, attempt > 0 && withinMs !== undefined ? left : undefined);
      } catch (error) {
        if (error instanceof TimeoutError) throw outcomeUnknown(withinMs ?? 0, error);
        if (error instanceof ErrorReply || this.#closed || attempt >= RETRIES) throw error;
        await new Promise((resolve) => setTimeout(resolve, Math.min(50 * 2 ** attempt, 1_000)));
      }
    }
  }

  // -- leases -----------------------------------------------------------------------------------

  async #refresh(register: boolean): Promise<boolean> {
    const result = await this.#eval(REFRESH, [this.#key('nodes')], [this.node, this.leaseMs, register ? '1' : '0']);
    return Number(result) === 1;
  }

  /** Renew this node's lease, and free the names of nodes whose lease has ended. */
  async #tendLeases(): Promise<void> {
    if (this.#leaseBusy || this.#closing) return;
    this.#leaseBusy = true;
    try {
      if (!(await this.#refresh(false)) && !this.#closing) {
        // Cut off from Redis longer than the lease: the others let our members go. Take them back.
        await this.#refresh(true);
        await this.#reclaim();
      }
      await this.#eval(REAP, [this.#key('nodes'), this.#key('names')], [this.#prefix, this.#channel]);
      if (!this.#pumping) this.#forgetIdleRooms();
    } catch {
      // Redis is away: said once by #down; the next round tries again.
    } finally {
      this.#leaseBusy = false;
    }
  }

  async #reclaim(): Promise<void> {
    let lost = 0;
    for (const stored of this.#held.values()) {
      const result = await this.#claimScript(stored);
      if (result !== 'ok') lost++;
    }
    this.#logger.warn({ members: this.#held.size, lost }, `this node's lease ended while Redis was away; its ${this.#held.size} members joined again${lost > 0 ? ` (${lost} names had been taken meanwhile)` : ''}`);
  }

  // -- incoming events ----------------------------------------------------------------------------

  #onChannel(text: string): void {
    try {
      if (text.startsWith('m')) {
        const bar = text.indexOf('|');
        const message = JSON.parse(text.slice(bar + 1)) as ChatMessage;
        message.seq = Number(text.slice(1, bar));
        this.#receive({ kind: 'message', message });
      } else if (text.startsWith('e')) {
        this.#receive({ kind: 'event', event: toRoomEvent(JSON.parse(text.slice(1)) as RawEvent) });
      }
    } catch (error) {
      this.#logger.error({ err: error }, 'unreadable chat event from Redis');
    }
  }

  #receive(incoming: Incoming): void {
    // While a fill runs the inbox waits; past its bound, messages are dropped (events are few:
    // joins and leaves) and one resync after the fill reads them again from Redis and the store.
    if (this.#pumping && incoming.kind === 'message' && this.#inbox.length >= (this.#options.maxInbox ?? DEFAULT_MAX_INBOX)) {
      if (!this.#overflowed) {
        this.#overflowed = true;
        this.#logger.warn({ waiting: this.#inbox.length }, 'chat messages arrive faster than this node can catch up; they are read again from Redis once it has');
        this.#inbox.push({ kind: 'resync' });
      }
      return;
    }
    this.#inbox.push(incoming);
    if (!this.#pumping) this.#pump();
  }

  /**
   * Deliver what came in, in order. Synchronous while the sequence numbers follow on; a gap (or a
   * resync after the subscription came back) pauses delivery while the stream is read.
   */
  #pump(): void {
    while (this.#inbox.length > 0) {
      const next = this.#inbox[0]!;
      if (next.kind === 'message') {
        const { room, seq } = next.message;
        const last = this.#delivered.get(room);
        if (last !== undefined && seq > last + 1) {
          this.#pauseFor((generation) => this.#fill(room, last, seq - 1, generation));
          return;
        }
        this.#inbox.shift();
        this.#deliver(next.message);
      } else if (next.kind === 'resync') {
        this.#inbox.shift();
        this.#overflowed = false;
        this.#pauseFor((generation) => this.#resync(generation));
        return;
      } else {
        this.#inbox.shift();
        this.#emit(next.event);
      }
    }
  }

  /**
   * Pause delivery for a fill, at most `fillTimeoutMs` (10 s). A fill that fails or takes longer (Redis
   * or the store away) is abandoned: the messages waiting are dropped, and a resync a moment
   * later reads them again, so delivery never stalls on it nor loops on it at full speed.
   */
  #pauseFor(work: (generation: number) => Promise<void>): void {
    this.#pumping = true;
    const generation = ++this.#fillGeneration;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${this.#fillTimeoutMs / 1000} s`)), this.#fillTimeoutMs);
    });
    void Promise.race([work(generation), timeout])
      .then(() => {
        this.#fillFailing = false;
      })
      .catch((error: unknown) => {
        this.#fillGeneration++;
        if (!this.#fillFailing) this.#logger.warn({ err: error }, 'could not read the chat stream from Redis; trying again shortly');
        this.#fillFailing = true;
        this.#overflowed = false;
        this.#inbox.splice(0, this.#inbox.length, ...this.#inbox.filter((incoming) => incoming.kind === 'event'));
        const retry = setTimeout(() => this.#closed || this.#receive({ kind: 'resync' }), FILL_RETRY_MS);
        retry.unref();
      })
      .finally(() => {
        clearTimeout(timer);
        this.#pumping = false;
        this.#pump();
      });
  }

  #deliver(message: ChatMessage): void {
    const last = this.#delivered.get(message.room);
    if (last !== undefined && message.seq <= last) {
      this.duplicatesDropped++;
      return;
    }
    this.#delivered.set(message.room, message.seq);
    this.#emit({ type: 'message', message });
  }

  /**
   * Deliver `room`'s messages after `after` up to `upTo`, in order, a page (recentPerRoom numbers)
   * at a time: from the stream, and from the store for what the stream no longer holds. A node
   * more than MAX_FILL behind skips to the newest MAX_FILL (its members can still read the rest
   * with `since`). `generation` stops a fill that was abandoned (#pauseFor).
   */
  async #fill(room: string, after: number, upTo: number, generation: number): Promise<void> {
    const page = Math.max(1, this.#options.recentPerRoom ?? 1_000);
    if (upTo - after > MAX_FILL) {
      this.#logger.warn({ room, from: after + 1, to: upTo - MAX_FILL }, `this node is ${upTo - after} messages behind in ${room}; the oldest ${upTo - after - MAX_FILL} are not delivered live (members can read them from the history)`);
      after = upTo - MAX_FILL;
      this.#delivered.set(room, after);
    }
    let missing = 0;
    for (let cursor = after; cursor < upTo; ) {
      const end = Math.min(upTo, cursor + page);
      let messages = await this.#streamRange(room, `${cursor + 1}-0`, `${end}-1`, page, false, this.#fillTimeoutMs);
      const first = messages[0]?.seq ?? end + 1;
      if (first > cursor + 1) {
        // Trimmed from the stream already: the store has them (written by the node that numbered them).
        if (generation === this.#fillGeneration) await this.#writer.flushed();
        messages = mergeCatchUp(cursor, await this.#options.history.range(room, cursor, first, page), messages);
      }
      if (generation !== this.#fillGeneration) return;
      this.gapsFilled += messages.length;
      for (const message of messages) this.#deliver(message);
      missing += end - cursor - messages.length;
      if ((this.#delivered.get(room) ?? 0) < end) this.#delivered.set(room, end);
      cursor = end;
    }
    if (missing > 0) this.#logger.warn({ room, from: after + 1, to: upTo, missing }, `${missing} chat messages lost between nodes (neither Redis nor the store had them)`);
  }

  /** After the subscription was down: every room followed here, up to its current number. */
  async #resync(generation: number): Promise<void> {
    for (const [room, last] of [...this.#delivered]) {
      const current = await this.#cmd.sendCommand<string | null>(['GET', this.#key(`seq:${room}`)], { timeout: this.#fillTimeoutMs });
      if (generation !== this.#fillGeneration) return;
      if (current !== null && Number(current) > last) await this.#fill(room, Math.max(last, this.#delivered.get(room) ?? 0), Number(current), generation);
    }
  }

  /** Forget the numbers of rooms no member here is in, so this map does not grow with every room ever used. */
  #forgetIdleRooms(): void {
    const followed = new Set([...this.#held.values()].map((stored) => stored.room));
    for (const room of this.#delivered.keys()) if (!followed.has(room)) this.#delivered.delete(room);
  }

  async #streamRange(room: string, start: string, end: string, count: number, reverse = false, sendTimeoutMs?: number): Promise<ChatMessage[]> {
    const command = [reverse ? 'XREVRANGE' : 'XRANGE', this.#key(`stream:${room}`), reverse ? end : start, reverse ? start : end, 'COUNT', String(Math.max(1, count))];
    const reply = (await this.#cmd.sendCommand(command, sendTimeoutMs === undefined ? undefined : { timeout: sendTimeoutMs })) as Array<[string, string[]]>;
    const messages = reply.map(([id, fields]) => {
      const message = JSON.parse(fields[1] ?? '{}') as ChatMessage;
      message.seq = Number(id.slice(0, id.indexOf('-')));
      return message;
    });
    return reverse ? messages.reverse() : messages;
  }

  subscribe(listener: (event: RoomEvent) => void): () => void {
    return this.#listeners.subscribe(listener);
  }

  #emit(event: RoomEvent): void {
    this.#listeners.emit(event);
  }

  // -- names --------------------------------------------------------------------------------------

  async #claimScript(stored: StoredMember): Promise<string> {
    const key = nameKey(stored.name);
    const info = JSON.stringify(stored);
    const join = `e${JSON.stringify({ type: 'join', room: stored.room, member: stored })}`;
    const result = await this.#evalRetrying(
      CLAIM,
      [this.#key('names'), this.#key('rooms'), this.#key(`node:${this.node}:names`)],
      [this.#prefix, key, info, this.#options.maxMembers ?? 10_000, this.#options.maxRooms ?? 1_000, stored.room, this.#channel, join],
    );
    return String(result);
  }

  async claim(member: MemberInfo, owner: string): Promise<ClaimResult> {
    const stored: StoredMember = { name: member.name, room: member.room, via: member.via, account: member.account, address: member.address, owner, node: this.node };
    let result = await this.#claimScript(stored);
    // Taken by this very claim, made once already before the connection dropped?
    if (result === 'taken' && (await this.owner(member.name)) === owner) result = 'ok';
    if (result !== 'ok') return { ok: false, reason: result === 'full' || result === 'too-many-rooms' ? result : 'taken' };
    this.#held.set(member.name, stored);
    return { ok: true };
  }

  async transfer(name: string, fromOwner: string, toOwner: string, changes: Partial<Pick<MemberInfo, 'address' | 'via'>> = {}): Promise<boolean> {
    const done = Number(await this.#eval(TRANSFER, [this.#key('names')], [nameKey(name), fromOwner, toOwner, changes.address ?? '', changes.via ?? ''])) === 1;
    const held = this.#held.get(name);
    if (done && held) {
      held.owner = toOwner;
      if (changes.address !== undefined) held.address = changes.address;
      if (changes.via !== undefined) held.via = changes.via;
    }
    return done;
  }

  async release(name: string, owner: string, reason: LeaveReason): Promise<void> {
    if (this.#held.get(name)?.owner === owner) this.#held.delete(name);
    const released = this.#evalRetrying(RELEASE, [this.#key('names')], [this.#prefix, nameKey(name), owner, reason, this.#channel]);
    if (!this.#outage) {
      await released;
      return;
    }
    // Redis is away: the release waits in the queue (or the lease ends first); a member leaving,
    // or a server stopping, does not wait for it.
    released.catch(() => undefined);
  }

  async move(name: string, owner: string, room: string): Promise<ClaimResult> {
    const result = String(await this.#eval(MOVE, [this.#key('names'), this.#key('rooms')], [this.#prefix, nameKey(name), owner, room, this.#options.maxRooms ?? 1_000, this.#channel]));
    if (result !== 'ok') return { ok: false, reason: result === 'too-many-rooms' ? result : 'taken' };
    const held = this.#held.get(name);
    if (held) held.room = room;
    return { ok: true };
  }

  async #stored(name: string): Promise<StoredMember | undefined> {
    const raw = await this.#cmd.hGet(this.#key('names'), nameKey(name));
    return raw ? (JSON.parse(raw) as StoredMember) : undefined;
  }

  async owner(name: string): Promise<string | undefined> {
    return (await this.#stored(name))?.owner;
  }

  async member(name: string): Promise<MemberInfo | undefined> {
    const stored = await this.#stored(name);
    return stored && publicInfo(stored);
  }

  async members(room: string): Promise<MemberSummary[]> {
    const keys = await this.#cmd.sMembers(this.#key(`room:${room}:members`));
    if (keys.length === 0) return [];
    const raws = await this.#cmd.hmGet(this.#key('names'), keys);
    const list: MemberSummary[] = [];
    for (const raw of raws) {
      if (!raw) continue;
      const stored = JSON.parse(raw) as StoredMember;
      list.push({ name: stored.name, via: stored.via, account: stored.account });
    }
    return list.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async rooms(): Promise<string[]> {
    return this.#cmd.sMembers(this.#key('rooms'));
  }

  // -- messages -----------------------------------------------------------------------------------

  async publish(room: string, draft: { kind: MessageKind; from: string; text: string; cid?: string }, owner?: string): Promise<ChatMessage | undefined> {
    return this.#append(room, draft, draft.kind === 'chat' ? 'member' : 'free', owner ?? '');
  }

  async post(room: string, draft: { from: string; text: string; cid?: string }, options: { account: boolean }): Promise<ChatMessage | undefined> {
    return this.#append(room, { kind: 'chat', ...draft }, options.account ? 'free' : 'post', '');
  }

  async #append(room: string, draft: { kind: MessageKind; from: string; text: string; cid?: string }, mode: 'member' | 'post' | 'free', owner: string): Promise<ChatMessage | undefined> {
    const body: Omit<ChatMessage, 'seq'> = { room, kind: draft.kind, from: draft.from, text: draft.text, time: this.#now() };
    if (draft.cid !== undefined) body.cid = draft.cid;
    const json = JSON.stringify(body);
    // The attempt's key: the client's own id for the message when it gave one (a wharf client that
    // reconnected during an outage says again what it had not seen numbered, while the first
    // attempt may still be waiting for Redis), else one of this node's.
    const attempt = draft.cid !== undefined ? `cid:${nameKey(draft.from)}:${draft.cid}` : `sent:${this.node}:${++this.#appends}`;
    const keys = [this.#key('names'), this.#key(`seq:${room}`), this.#key(`stream:${room}`), this.#key(attempt)];
    const args = [mode, nameKey(draft.from), owner, room, this.#options.recentPerRoom ?? 1_000, json, this.#channel, ATTEMPT_MEMORY_MS, this.#prefix];
    const numbered = async () => {
      const [seq, fresh] = (await this.#evalRetrying(APPEND, keys, args, RETRY_WINDOW_MS)) as [number, number];
      return { seq: Number(seq), fresh: Number(fresh) === 1 };
    };
    let result = await numbered();
    if (result.seq === -1) {
      await this.#startNumbering(room);
      result = await numbered();
    }
    if (result.seq <= 0) return undefined;
    const message: ChatMessage = { ...body, seq: result.seq };
    // A number given earlier (a retry, or a cid said again) is in the history already, or on its way.
    if (result.fresh) this.#writer.write(message);
    return message;
  }

  /**
   * A room's counter is missing (its first message, or Redis lost its data): it starts from the
   * highest number the store, the stream or this node has seen, so no number is given twice.
   */
  async #startNumbering(room: string): Promise<void> {
    await this.#writer.flushed();
    const [stored, streamed] = await Promise.all([this.#options.history.lastSeq(room), this.#streamRange(room, '-', '+', 1, true)]);
    const start = Math.max(stored, streamed[0]?.seq ?? 0, this.#delivered.get(room) ?? 0);
    await this.#cmd.set(this.#key(`seq:${room}`), String(start), { condition: 'NX' });
  }

  async sendPrivate(from: string, to: string, text: string, owner: string): Promise<boolean> {
    if (this.#held.get(from)?.owner !== owner) return false;
    const target = await this.#stored(to);
    if (!target) return false;
    const event: RoomEvent = { type: 'private', from, to: target.name, text, time: this.#now() };
    await this.#cmd.publish(this.#nodeChannel(target.node), `e${JSON.stringify(event)}`);
    // The sender's copy, when the recipient is on another node.
    if (target.node !== this.node) this.#emit(event);
    return true;
  }

  async lastSeq(room: string): Promise<number> {
    const value = await this.#cmd.get(this.#key(`seq:${room}`));
    if (value !== null) return Number(value);
    return Math.max(await this.#options.history.lastSeq(room), this.#delivered.get(room) ?? 0);
  }

  async history(room: string, query: HistoryQuery): Promise<HistoryPage> {
    const after = query.after ?? 0;
    const before = query.before ?? Number.MAX_SAFE_INTEGER;
    const limit = Math.max(0, query.limit);
    const last = await this.lastSeq(room);
    const upTo = Math.min(before - 1, last);
    if (upTo <= after || limit === 0) return { messages: [], complete: upTo <= after };
    let messages = await this.#streamRange(room, `${after + 1}-0`, `${upTo}-1`, limit, true);
    const firstInStream = messages[0]?.seq ?? upTo + 1;
    if (messages.length < limit && firstInStream > after + 1) {
      await this.#writer.flushed();
      try {
        const older = await this.#options.history.range(room, after, firstInStream, limit - messages.length);
        messages = mergeCatchUp(after, older, messages);
      } catch (error) {
        this.#logger.warn({ err: error, room }, 'could not read the chat history');
      }
    }
    if (messages.length > limit) messages = messages.slice(messages.length - limit);
    const complete = messages.length > 0 && messages[0]!.seq === after + 1 && messages.length === upTo - after;
    return { messages, complete };
  }

  /** Messages not written to the history store (it failed, or too many were waiting). */
  get historyWriteFailures(): number {
    return this.#writer.failures;
  }

  async flushed(): Promise<void> {
    await this.#writer.flushed();
  }

  /** Give up the lease and the names still held, write what is pending, disconnect. */
  async close(): Promise<void> {
    if (this.#closed || this.#closing) return;
    this.#closing = true;
    clearInterval(this.#leaseTimer);
    await this.#writer.flushed();
    const leave = (async () => {
      for (const [name, stored] of [...this.#held]) await this.release(name, stored.owner, 'disconnected');
      await this.#cmd.zRem(this.#key('nodes'), this.node);
      await this.#sub.unsubscribe();
      return false;
    })().catch(() => true);
    // A Redis that is away is not waited for: the lease ends by itself, and the others reap.
    const gaveUp = await Promise.race([leave, new Promise<boolean>((resolve) => setTimeout(() => resolve(true), 2_000).unref())]);
    this.#closed = true;
    clearTimeout(this.#backTimer);
    this.#listeners.clear();
    if (gaveUp) {
      this.#cmd.destroy();
      this.#sub.destroy();
    } else {
      await Promise.all([this.#cmd.close(), this.#sub.close()]);
    }
  }
}

interface RawEvent {
  type: 'join' | 'leave' | 'private';
  room?: string;
  member?: StoredMember;
  reason?: LeaveReason;
  from?: string;
  to?: string;
  text?: string;
  time?: number;
}

const scriptShas = new Map<string, string>();

function scriptSha(script: string): string {
  let sha = scriptShas.get(script);
  if (sha === undefined) {
    sha = createHash('sha1').update(script).digest('hex');
    scriptShas.set(script, sha);
  }
  return sha;
}

/** A message sent to Redis whose answer never came, and that can no longer be sent again safely. */
function outcomeUnknown(withinMs: number, cause?: unknown): WharfError {
  return new WharfError('EREDIS', `Redis did not answer within ${withinMs / 1000} s; the message may or may not have been said`, { cause });
}

function publicInfo(stored: StoredMember): MemberInfo {
  return { name: stored.name, room: stored.room, via: stored.via, account: stored.account === true, address: stored.address };
}

function toRoomEvent(raw: RawEvent): RoomEvent {
  if (raw.type === 'private') return { type: 'private', from: String(raw.from), to: String(raw.to), text: String(raw.text), time: Number(raw.time) };
  const member = publicInfo(raw.member!);
  if (raw.type === 'join') return { type: 'join', room: String(raw.room), member };
  return { type: 'leave', room: String(raw.room), member, reason: raw.reason ?? 'disconnected' };
}
