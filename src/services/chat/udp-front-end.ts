/**
 * The seed's UDP chat room (seed 000 §8), made trustworthy: a name belongs to the address that
 * logged in with it, every address has a rate limit, bad datagrams are dropped, silent members
 * expire. Members here are in one room (`room`, the lobby) together with wharf's TCP clients.
 */
import { RateLimiter } from '../../core/rate-limiter.js';
import type { Logger } from '../../core/logger.js';
import type { ServiceMetrics } from '../../core/metrics.js';
import type { ListeningAddress } from '../../core/service.js';
import { DatagramGuard } from '../../core/udp-guard.js';
import type { ChatAccounts } from './accounts.js';
import { PresenceBatcher, type PresenceRun } from './presence.js';
import {
  SEED_FAIL,
  SEED_OK,
  cleanText,
  formatSeedAdmin,
  formatSeedChat,
  formatSeedLeft,
  formatSeedWelcome,
  groupPresenceNames,
  formatSeedPrivate,
  nameProblem,
  normalizeName,
  parseSeedDatagram,
  textProblem,
  type ChatMessage,
} from './protocol.js';
import type { RoomBus, RoomEvent } from './room.js';
import { openUdpTransport, type UdpSendMode, type UdpTransport } from '../../core/batched-udp-transport.js';

export interface UdpFrontEndOptions {
  bus: RoomBus;
  accounts: ChatAccounts;
  /** The room seed members are in. */
  room: string;
  host: string;
  port: number;
  /** Larger datagrams are dropped unread by the handler. */
  maxDatagramBytes: number;
  maxTextBytes: number;
  /** Datagrams per second per address (ip:port), and the burst allowed. */
  ratePerSecond: number;
  rateBurst: number;
  /** Seed members from one IP address at once. */
  maxMembersPerIp: number;
  /** A member silent this long is dropped and the room told. 0 disables. */
  memberIdleMs: number;
  receiveBufferBytes: number;
  sendBufferBytes: number;
  /** How datagrams are sent: batched from a worker thread (`auto` when Node allows it) or one call each. */
  sendMode: UdpSendMode;
  /** Datagrams waiting to be sent before more are dropped. */
  maxSendQueue: number;
  logger: Logger;
  metrics: ServiceMetrics;
  /** The UDP ports of the host's services, refused as sources (core/udp-guard.ts). */
  ownUdpPorts?: () => Iterable<number>;
  /**
   * The UDP socket is shared with sibling workers (--workers): a datagram from a member another
   * worker holds may arrive here, so one from an address this worker does not know is checked
   * with the room. Otherwise it is dropped here, without a word to Redis: the seed protocol only
   * lets a member who logged in from an address speak from it.
   */
  sharedSocket?: boolean;
  now?: () => number;
}

/** What the UDP side refused, by reason (also logged when the service stops). */
export interface UdpStats {
  logins: number;
  loginsRefused: number;
  messages: number;
  /** `C`/`E` for a name held by another address. */
  spoofed: number;
  /** `C`/`E` from an address that is not a member, for a name nobody holds. */
  notMember: number;
  rateLimited: number;
  malformed: number;
  notUtf8: number;
  oversized: number;
  badText: number;
  expired: number;
  readmitted: number;
  deliveries: number;
  /** Sends dropped because the send queue was full or the kernel refused them. */
  sendDropped: number;
}

interface UdpMember {
  /** The transport's handle for this member's address. */
  id: number;
  name: string;
  /** `ip:port` */
  key: string;
  ip: string;
  port: number;
  owner: string;
  lastSeen: number;
}

/** A member who expired, remembered for a while so its next message lets it back in. */
interface Expired {
  name: string;
  at: number;
}

const MAX_EXPIRED_REMEMBERED = 10_000;

export class UdpFrontEnd {
  readonly stats: UdpStats = {
    logins: 0,
    loginsRefused: 0,
    messages: 0,
    spoofed: 0,
    notMember: 0,
    rateLimited: 0,
    malformed: 0,
    notUtf8: 0,
    oversized: 0,
    badText: 0,
    expired: 0,
    readmitted: 0,
    deliveries: 0,
    sendDropped: 0,
  };
  readonly #options: UdpFrontEndOptions;
  readonly #byKey = new Map<string, UdpMember>();
  readonly #byName = new Map<string, UdpMember>();
  readonly #perIp = new Map<string, number>();
  readonly #pendingLogin = new Map<string, Promise<boolean>>();
  readonly #expired = new Map<string, Expired>();
  readonly #limiter: RateLimiter;
  readonly #presence: PresenceBatcher;
  readonly #now: () => number;
  #transport!: UdpTransport;
  #nextId = 1;
  #unsubscribe: (() => void) | undefined;
  #sweeper: NodeJS.Timeout | undefined;
  #stopped = false;

  private constructor(options: UdpFrontEndOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#limiter = new RateLimiter({ ratePerSecond: options.ratePerSecond, burst: options.rateBurst });
    this.#presence = new PresenceBatcher((run) => this.#deliverPresence(run));
  }

  static async start(options: UdpFrontEndOptions): Promise<UdpFrontEnd> {
    const front = new UdpFrontEnd(options);
    const metrics = options.metrics;
    // A room answers and fans out: a datagram forged from another responder's port must not reach it.
    const guard = new DatagramGuard({ ...(options.ownUdpPorts ? { ownPorts: options.ownUdpPorts } : {}), logger: options.logger, metrics });
    front.#transport = await openUdpTransport(
      {
        host: options.host,
        port: options.port,
        receiveBufferBytes: options.receiveBufferBytes,
        sendBufferBytes: options.sendBufferBytes,
        maxDatagramBytes: options.maxDatagramBytes,
        maxSendQueue: options.maxSendQueue,
        logger: options.logger,
        onDatagrams(batch) {
          for (const datagram of batch) {
            metrics.datagramsIn++;
            metrics.bytesIn += datagram.data.length;
            if (!guard.admits(datagram.ip, datagram.port)) continue;
            try {
              front.#onDatagram(datagram.data, datagram.ip, datagram.port);
            } catch (error) {
              metrics.errors++;
              options.logger.error({ err: error, peer: datagram.ip }, 'chat datagram handler threw');
            }
          }
        },
      },
      options.sendMode,
    );
    for (const address of front.#transport.addresses) guard.addOwnPort(address.port);
    const counters = front.#transport.counters;
    Object.defineProperty(front.stats, 'oversized', { get: () => counters.oversized, enumerable: true });
    Object.defineProperty(front.stats, 'sendDropped', { get: () => counters.sendDropped, enumerable: true });
    front.#unsubscribe = options.bus.subscribe((event) => front.#onEvent(event));
    if (options.memberIdleMs > 0) {
      const every = Math.max(50, Math.min(10_000, Math.floor(options.memberIdleMs / 4)));
      front.#sweeper = setInterval(() => front.#expireIdle(), every);
      front.#sweeper.unref();
    }
    return front;
  }

  get addresses(): ListeningAddress[] {
    return this.#transport.addresses;
  }

  /** `worker` when datagrams are sent in batches from a worker thread, `inline` otherwise. */
  get sendMode(): 'worker' | 'inline' {
    return this.#transport.mode;
  }

  get memberCount(): number {
    return this.#byKey.size;
  }

  /** The names of the seed members here now. */
  memberNames(): string[] {
    return [...this.#byName.keys()];
  }

  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    clearInterval(this.#sweeper);
    this.#unsubscribe?.();
    this.#presence.stop();
    const members = [...this.#byKey.values()];
    this.#byKey.clear();
    this.#byName.clear();
    await Promise.all(members.map((m) => this.#options.bus.release(m.name, m.owner, 'disconnected')));
    await this.#transport.stop();
  }

  // -- incoming ---------------------------------------------------------------------------------

  #onDatagram(message: Buffer, ip: string, port: number): void {
    const key = `${ip}:${port}`;
    const stats = this.stats;
    if (!this.#limiter.take(key)) {
      stats.rateLimited++;
      return;
    }
    const parsed = parseSeedDatagram(message);
    if (!parsed.ok) {
      if (parsed.reason === 'not-utf8') stats.notUtf8++;
      else stats.malformed++;
      return;
    }
    const request = parsed.request;
    const name = normalizeName(request.name);
    const member = this.#byKey.get(key);
    if (member) member.lastSeen = this.#now();
    switch (request.kind) {
      case 'login':
        this.#background(this.#login(name, key, ip, port), 'login');
        return;
      case 'chat':
        this.#chat(member, name, request.text, key, ip, port);
        return;
      case 'exit':
        this.#exit(member, name, key);
        return;
    }
  }

  async #login(name: string, key: string, ip: string, port: number): Promise<boolean> {
    if (this.#pendingLogin.has(key)) return false; // a resend while the first is being answered
    const attempt = this.#tryLogin(name, key, ip, port);
    this.#pendingLogin.set(key, attempt);
    try {
      const ok = await attempt;
      if (ok) this.stats.logins++;
      else this.stats.loginsRefused++;
      this.#reply(ok ? SEED_OK : SEED_FAIL, ip, port);
      return ok;
    } finally {
      this.#pendingLogin.delete(key);
    }
  }

  async #tryLogin(name: string, key: string, ip: string, port: number): Promise<boolean> {
    const { bus, logger } = this.#options;
    const problem = nameProblem(name);
    if (problem) {
      logger.debug({ peer: key, problem }, 'chat login refused');
      return false;
    }
    const current = this.#byKey.get(key);
    if (current && current.name === name) return true; // logging in again with its own name
    const fromThisIp = (this.#perIp.get(ip) ?? 0) - (current ? 1 : 0);
    if (fromThisIp >= this.#options.maxMembersPerIp) {
      logger.debug({ peer: key }, 'chat login refused: too many members from this address');
      return false;
    }
    if (this.#byName.has(name)) return false;
    const holder = await bus.member(name);
    // With --workers over Redis, a sibling worker may hold this name for this very address.
    if (holder) return bus.shared === true && holder.via === 'udp' && holder.address === key && !this.#byKey.has(key);
    try {
      if (await this.#options.accounts.isAccount(name)) {
        logger.debug({ peer: key, name }, 'chat login refused: the name is a wharf account (log in with wharf chat --login)');
        return false;
      }
    } catch (error) {
      logger.warn({ err: error }, 'could not check the account names; refusing the login');
      return false;
    }
    if (this.#stopped) return false;
    // Another name from this address: that member leaves first.
    const previous = this.#byKey.get(key);
    if (previous) await this.#remove(previous, 'left');
    const owner = udpOwner(key);
    const claimed = await bus.claim({ name, room: this.#options.room, via: 'udp', account: false, address: key }, owner);
    if (!claimed.ok) return false;
    if (this.#stopped) {
      await bus.release(name, owner, 'disconnected');
      return false;
    }
    const member: UdpMember = { id: this.#nextId++, name, key, ip, port, owner, lastSeen: this.#now() };
    this.#transport.setMember(member.id, ip, port);
    this.#byKey.set(key, member);
    this.#byName.set(name, member);
    this.#perIp.set(ip, (this.#perIp.get(ip) ?? 0) + 1);
    this.#expired.delete(key);
    return true;
  }

  #chat(member: UdpMember | undefined, name: string, text: string, key: string, ip: string, port: number): void {
    const stats = this.stats;
    if (!member) {
      // A member that expired and speaks again, from the same address, comes back in.
      const pending = this.#pendingLogin.get(key);
      const expired = this.#expired.get(key);
      if (pending || (expired && expired.name === name && !this.#byName.has(name))) {
        const ready = pending ?? this.#readmit(name, key, ip, port);
        this.#background(
          ready.then((ok) => {
            const now = this.#byKey.get(key);
            if (ok && now && now.name === name) this.#say(now, text);
          }),
          'readmission',
        );
        return;
      }
      if (this.#siblingsMayHold) this.#background(this.#sayForSibling(name, text, key), 'message');
      else if (this.#byName.has(name)) stats.spoofed++;
      else stats.notMember++;
      return;
    }
    if (member.name !== name) {
      stats.spoofed++;
      return;
    }
    this.#say(member, text);
  }

  /** Another worker may hold the member behind an address unknown here (see `sharedSocket`). */
  get #siblingsMayHold(): boolean {
    return this.#options.bus.shared === true && this.#options.sharedSocket === true;
  }

  #say(member: UdpMember, raw: string): void {
    const text = cleanText(raw);
    if (textProblem(text, this.#options.maxTextBytes)) {
      this.stats.badText++;
      return;
    }
    this.stats.messages++;
    this.#background(this.#options.bus.publish(this.#options.room, { kind: 'chat', from: member.name, text }, member.owner), 'message');
  }

  /**
   * A datagram for a member a sibling worker holds (the kernel hands each datagram of the shared
   * socket to any worker): spoken under the member's owner, which the bus checks.
   */
  async #sayForSibling(name: string, raw: string, key: string): Promise<void> {
    const text = cleanText(raw);
    if (textProblem(text, this.#options.maxTextBytes)) {
      this.stats.badText++;
      return;
    }
    const message = await this.#options.bus.publish(this.#options.room, { kind: 'chat', from: name, text }, udpOwner(key));
    if (message) this.stats.messages++;
    else this.stats.notMember++;
  }

  async #readmit(name: string, key: string, ip: string, port: number): Promise<boolean> {
    const attempt = this.#tryLogin(name, key, ip, port);
    this.#pendingLogin.set(key, attempt);
    try {
      const ok = await attempt;
      if (ok) this.stats.readmitted++;
      return ok;
    } finally {
      this.#pendingLogin.delete(key);
    }
  }

  #exit(member: UdpMember | undefined, name: string, key: string): void {
    if (!member && this.#siblingsMayHold) {
      // Held by a sibling worker, maybe: the bus frees it only for the owner that holds it.
      this.#background(this.#options.bus.release(name, udpOwner(key), 'left'), 'exit');
      return;
    }
    if (!member || member.name !== name) {
      if (this.#byName.has(name)) this.stats.spoofed++;
      else this.stats.notMember++;
      return;
    }
    this.#background(this.#remove(member, 'left'), 'exit');
  }

  async #remove(member: UdpMember, reason: 'left' | 'expired' | 'disconnected'): Promise<void> {
    if (this.#byKey.get(member.key) !== member) return;
    this.#forget(member);
    await this.#options.bus.release(member.name, member.owner, reason);
  }

  /** Drop a member from this front end's tables (the bus is told separately, or already knows). */
  #forget(member: UdpMember): void {
    this.#byKey.delete(member.key);
    this.#byName.delete(member.name);
    this.#transport.deleteMember(member.id);
    const left = (this.#perIp.get(member.ip) ?? 1) - 1;
    if (left <= 0) this.#perIp.delete(member.ip);
    else this.#perIp.set(member.ip, left);
  }

  /**
   * A datagram is answered without waiting for the room; what the room then fails to do (Redis
   * away longer than its retries, say) is logged, never left as an unhandled rejection.
   */
  #background(work: Promise<unknown>, what: string): void {
    work.catch((error: unknown) => this.#options.logger.warn({ err: error }, `chat ${what} from a seed member failed: ${error instanceof Error ? error.message : String(error)}`));
  }

  #expireIdle(): void {
    const now = this.#now();
    const idle = this.#options.memberIdleMs;
    for (const member of [...this.#byKey.values()]) {
      if (now - member.lastSeen < idle) continue;
      this.stats.expired++;
      this.#expired.set(member.key, { name: member.name, at: now });
      this.#background(this.#remove(member, 'expired'), 'expiry');
    }
    // Forget expired members after a while, and never keep more than a bounded number.
    for (const [key, entry] of this.#expired) {
      if (now - entry.at > 10 * idle || this.#expired.size > MAX_EXPIRED_REMEMBERED) this.#expired.delete(key);
    }
  }

  // -- outgoing ---------------------------------------------------------------------------------

  #onEvent(event: RoomEvent): void {
    const room = this.#options.room;
    switch (event.type) {
      case 'message':
        if (event.message.room !== room) return;
        this.#presence.flushRoom(room);
        this.#deliverMessage(event.message);
        return;
      case 'join':
      case 'leave':
        if (event.type === 'leave') this.#forgetLeftElsewhere(event.member, event.reason);
        if (event.room !== room || this.#byKey.size === 0) return;
        this.#presence.add(room, event.type, event.member, event.type === 'leave' ? event.reason : undefined);
        return;
      case 'private': {
        const member = this.#byName.get(event.to);
        if (member) this.#send(Buffer.from(formatSeedPrivate(event.from, event.text)), member);
        return;
      }
    }
  }

  /** A member of ours that left through a sibling worker (its `E` went there): forgotten here too. */
  #forgetLeftElsewhere(info: { name: string; address: string }, reason: string): void {
    const member = this.#byName.get(info.name);
    if (!member || member.key !== info.address || (reason !== 'left' && reason !== 'expired')) return;
    this.#forget(member);
  }

  /** Encoded once, sent to every seed member but the sender. */
  #deliverMessage(message: ChatMessage): void {
    const count = this.#byKey.size;
    if (count === 0) return;
    const line = message.kind === 'admin' ? formatSeedAdmin(message.text) : formatSeedChat(message.from, message.text);
    const datagram = Buffer.from(line);
    const sender = message.kind === 'admin' ? undefined : this.#byName.get(message.from);
    // It spoke (maybe through a sibling worker): not idle.
    if (sender) sender.lastSeen = this.#now();
    this.#sendToAll(datagram, sender ? [sender.id] : [], count - (sender ? 1 : 0));
  }

  #deliverPresence(run: PresenceRun): void {
    if (this.#byKey.size === 0) return;
    const names = run.members.map((m) => m.name);
    for (const group of groupPresenceNames(run.kind, names, run.reason)) {
      const line = run.kind === 'join' ? formatSeedWelcome(group) : formatSeedLeft(group, run.reason);
      // Nobody is told about their own arrival alone (the seed welcomes the others only); in a
      // crowd that arrived at once, a line naming many may name its reader too.
      const self = group.length === 1 ? this.#byName.get(group[0]!) : undefined;
      this.#sendToAll(Buffer.from(line), self ? [self.id] : [], this.#byKey.size - (self ? 1 : 0));
    }
  }

  /**
   * The fan-out's hot path: one Buffer for every member, handed to the transport once (which
   * sends it without a callback per datagram).
   */
  #sendToAll(datagram: Buffer, except: number[], recipients: number): void {
    if (recipients <= 0) return;
    const metrics = this.#options.metrics;
    metrics.datagramsOut += recipients;
    metrics.bytesOut += datagram.length * recipients;
    this.stats.deliveries += recipients;
    this.#transport.toMembers(datagram, except);
  }

  #send(datagram: Buffer, member: UdpMember): void {
    const metrics = this.#options.metrics;
    metrics.datagramsOut++;
    metrics.bytesOut += datagram.length;
    this.stats.deliveries++;
    this.#transport.toMember(member.id, datagram);
  }

  #reply(text: string, ip: string, port: number): void {
    if (this.#stopped) return;
    this.#options.metrics.datagramsOut++;
    this.#transport.toAddress(ip, port, Buffer.from(text));
  }
}

/** A seed member's owner: its address, the same in every worker that shares the socket. */
function udpOwner(key: string): string {
  return `udp:${key}`;
}
