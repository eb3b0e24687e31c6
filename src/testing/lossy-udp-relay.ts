/**
 * A UDP relay that loses, duplicates, reorders and delays datagrams on purpose.
 *
 * Put it between a UDP client and a UDP server to prove that a protocol survives a bad network:
 *
 * ```text
 *   client ──► relay.address (listening socket) ──► upstream socket (one per client) ──► target
 *   client ◄── relay.address (listening socket) ◄── upstream socket ◄── target (any port)
 * ```
 *
 * - **Sessions.** Every client address (ip:port) seen on the listening socket gets its own upstream
 *   socket on an ephemeral port, so the server sees distinct peers and its replies flow back to the
 *   right client. Replies are sent to the client from the listening socket, so the client always
 *   talks to one address: `relay.address`.
 * - **Servers that answer from another port (TFTP).** A TFTP server answers a request from a new
 *   ephemeral port (its transfer ID), not from the port the request went to. The upstream socket
 *   therefore accepts datagrams from *any port of the target host* (datagrams from other hosts are
 *   ignored), and each session tracks a "current server port": the first client datagram goes to
 *   `target.port`, and every later one goes to the port the server last replied from for that
 *   client. The port is chosen when the client's datagram reaches the relay, as the client would
 *   have addressed it at that moment, even if the datagram is then delayed or held back.
 * - **Impairments.** Per datagram and per direction, in this order: drop (`dropPercent`), then
 *   duplicate (`duplicatePercent`: the datagram is sent twice), then reorder (`reorderPercent`:
 *   the datagram is held back and released right after the next datagram of the same client in
 *   the same direction, or after `reorderHoldMs` if none comes), then delay (`delayMs`, fixed or
 *   uniformly random in `{ min, max }`, applied to every datagram that is sent). A random delay range
 *   reorders datagrams on its own too, as jitter does on a real network. `directions` limits all of
 *   this to one direction; the other direction is relayed untouched and at once.
 * - **Replay.** Decisions come from a seeded PRNG (mulberry32). Each client session and direction
 *   gets its own stream derived from `seed`, the session's ordinal (first client seen is 0) and the
 *   direction, so the pattern a single client sees does not depend on how the two directions
 *   interleave in time. Pass the `seed` of a failing run (read it back from `relay.seed`) to replay
 *   the same pattern.
 * - **Bounded.** At most `maxSessions` clients (datagrams from further clients are discarded),
 *   at most `maxPendingDatagrams` delayed datagrams waiting on a timer (further ones are
 *   discarded); both count in `stats.overflowed`. Sessions idle for `idleTimeoutMs` (no datagram in
 *   either direction) are closed along with their upstream socket; if that client speaks again it
 *   starts a fresh session (new upstream port, current server port back to `target.port`).
 * - **Quiet.** The relay never throws on a send or socket error and logs nothing: failures are
 *   counted in `stats.errors`.
 *
 * It is a test tool: it binds 127.0.0.1 by default; use `listenHost: '::1'` to listen on IPv6.
 */
import type { RemoteInfo, Socket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { isLoopbackAddress } from '../core/address.js';
import { UsageError } from '../core/errors.js';
import { bindUdpSocket, closeUdpSocket, createUdpSocket, udpSocketType } from '../core/udp-socket.js';

export type LossyUdpRelayDirections = 'both' | 'to-server' | 'to-client';

export interface LossyUdpRelayOptions {
  /** The real server. A host name is resolved once, at start. */
  target: { host: string; port: number };
  /** Address of the listening socket the clients send to. Default '127.0.0.1'. */
  listenHost?: string;
  /** Port of the listening socket. Default 0 (an ephemeral port; read it from `relay.address`). */
  listenPort?: number;
  /** Chance, 0–100, that a datagram is dropped. Default 0. */
  dropPercent?: number;
  /** Chance, 0–100, that a datagram is sent twice. Default 0. */
  duplicatePercent?: number;
  /** Chance, 0–100, that a datagram is held back and released after the next one. Default 0. */
  reorderPercent?: number;
  /** Extra delay for every datagram sent, in ms: fixed, or uniformly random in a range. Default 0. */
  delayMs?: number | { min: number; max: number };
  /** How long a held-back datagram waits for a successor before it is released anyway. Default 50. */
  reorderHoldMs?: number;
  /** Seed of the PRNG (a 32-bit unsigned integer). Default: random, readable as `relay.seed`. */
  seed?: number;
  /** Which direction the impairments apply to. Default 'both'. */
  directions?: LossyUdpRelayDirections;
  /** A client session with no datagram in either direction for this long is closed. Default 30 000. */
  idleTimeoutMs?: number;
  /** Most client sessions at once. Default 1024. */
  maxSessions?: number;
  /** Most delayed datagrams waiting on a timer at once, over all sessions. Default 4096. */
  maxPendingDatagrams?: number;
}

export interface LossyUdpRelayStats {
  /** Datagrams handed to a socket for sending, in both directions (each duplicate copy counts). */
  forwarded: number;
  /** Datagrams dropped on purpose. */
  dropped: number;
  /** Datagrams sent twice (each counts once here and twice in `forwarded`). */
  duplicated: number;
  /** Held-back datagrams that were released after a later datagram, i.e. actually overtaken. */
  reordered: number;
  /** Datagrams received from clients. */
  toServer: number;
  /** Datagrams received from the target host. */
  toClient: number;
  /** Datagrams discarded because `maxSessions` or `maxPendingDatagrams` was reached. */
  overflowed: number;
  /** Failed sends and socket errors (never thrown, never logged). */
  errors: number;
}

interface RelaySettings {
  readonly targetPort: number;
  readonly drop: number;
  readonly duplicate: number;
  readonly reorder: number;
  readonly delayMin: number;
  readonly delayMax: number;
  readonly reorderHoldMs: number;
  readonly seed: number;
  readonly impairToServer: boolean;
  readonly impairToClient: boolean;
  readonly idleTimeoutMs: number;
  readonly maxSessions: number;
  readonly maxPendingDatagrams: number;
}

/** mulberry32: a tiny, fast, seedable PRNG returning floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The murmur3 finaliser: spreads the bits of a 32-bit integer. */
function mix32(value: number): number {
  let h = value >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

function laneSeed(seed: number, sessionOrdinal: number, direction: 0 | 1): number {
  return mix32(seed ^ mix32(Math.imul(sessionOrdinal, 2) + direction + 0x9e3779b9));
}

/** One datagram on its way through a lane. */
interface Datagram {
  readonly payload: Buffer;
  readonly port: number;
  readonly copies: 1 | 2;
  readonly delayMs: number;
}

/** A client session: one upstream socket and one lane per direction. */
interface Session {
  readonly key: string;
  readonly clientAddress: string;
  readonly clientPort: number;
  readonly upstream: Socket;
  /** Where the next client datagram goes: target.port, then the port the server last replied from. */
  serverPort: number;
  readonly toServer: Lane;
  readonly toClient: Lane;
  readonly timers: Set<NodeJS.Timeout>;
  readonly idleTimer: NodeJS.Timeout;
  closed: boolean;
}

/** The impairments of one direction of one session. */
class Lane {
  private held: Datagram | undefined;
  private holdTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly stats: LossyUdpRelayStats,
    private readonly settings: RelaySettings,
    private readonly impaired: boolean,
    private readonly random: () => number,
    private readonly transmit: (datagram: Datagram) => void,
  ) {}

  push(payload: Buffer, port: number): void {
    if (!this.impaired) {
      this.transmit({ payload, port, copies: 1, delayMs: 0 });
      return;
    }
    // Always draw the same number of values per datagram, so the stream stays aligned for replay.
    const dropDraw = this.random();
    const duplicateDraw = this.random();
    const reorderDraw = this.random();
    const delayDraw = this.random();
    const stats = this.stats;
    if (dropDraw * 100 < this.settings.drop) {
      stats.dropped += 1;
      return;
    }
    const { delayMin, delayMax } = this.settings;
    const datagram: Datagram = {
      payload,
      port,
      copies: duplicateDraw * 100 < this.settings.duplicate ? 2 : 1,
      delayMs: delayMin + delayDraw * (delayMax - delayMin),
    };
    const held = this.held;
    if (held !== undefined) {
      // This datagram overtakes the held one; it is never held itself (one hold per lane).
      this.releaseHold();
      this.transmit(datagram);
      stats.reordered += 1;
      this.transmit(held);
      return;
    }
    if (reorderDraw * 100 < this.settings.reorder) {
      this.held = datagram;
      this.holdTimer = setTimeout(() => {
        this.holdTimer = undefined;
        const late = this.held;
        this.held = undefined;
        if (late !== undefined) this.transmit(late);
      }, this.settings.reorderHoldMs);
      return;
    }
    this.transmit(datagram);
  }

  private releaseHold(): void {
    if (this.holdTimer !== undefined) clearTimeout(this.holdTimer);
    this.holdTimer = undefined;
    this.held = undefined;
  }

  /** Forget the held datagram and its timer (the session is closing). */
  clear(): void {
    this.releaseHold();
  }
}

function fail(message: string): never {
  throw new UsageError(`lossy UDP relay: ${message}`);
}

function checkPercent(name: string, value: number | undefined): number {
  if (value === undefined) return 0;
  if (!Number.isFinite(value) || value < 0 || value > 100) fail(`${name} must be a number from 0 to 100, got ${String(value)}`);
  return value;
}

function checkInteger(name: string, value: number | undefined, fallback: number, min: number, max: number): number {
  if (value === undefined) return fallback;
  if (!Number.isInteger(value) || value < min || value > max) fail(`${name} must be an integer from ${min} to ${max}, got ${String(value)}`);
  return value;
}

function checkDuration(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value < 0) fail(`${name} must be a duration of 0 ms or more, got ${String(value)}`);
  return value;
}

function validate(options: LossyUdpRelayOptions): RelaySettings {
  if (typeof options.target?.host !== 'string' || options.target.host === '') fail('target.host is required');
  const targetPort = checkInteger('target.port', options.target.port, 0, 1, 65535);
  let delayMin = 0;
  let delayMax = 0;
  const delay = options.delayMs;
  if (typeof delay === 'number') {
    delayMin = delayMax = checkDuration('delayMs', delay, 0);
  } else if (delay !== undefined) {
    delayMin = checkDuration('delayMs.min', delay.min, 0);
    delayMax = checkDuration('delayMs.max', delay.max, 0);
    if (delayMin > delayMax) fail(`delayMs.min (${delayMin}) must not exceed delayMs.max (${delayMax})`);
  }
  const directions = options.directions ?? 'both';
  if (directions !== 'both' && directions !== 'to-server' && directions !== 'to-client') {
    fail(`directions must be 'both', 'to-server' or 'to-client', got ${String(directions)}`);
  }
  const seed = options.seed ?? Math.floor(Math.random() * 0x1_0000_0000);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffff_ffff) fail(`seed must be an integer from 0 to ${0xffff_ffff}, got ${String(seed)}`);
  const idleTimeoutMs = checkDuration('idleTimeoutMs', options.idleTimeoutMs, 30_000);
  if (idleTimeoutMs === 0) fail('idleTimeoutMs must be more than 0');
  return {
    targetPort,
    drop: checkPercent('dropPercent', options.dropPercent),
    duplicate: checkPercent('duplicatePercent', options.duplicatePercent),
    reorder: checkPercent('reorderPercent', options.reorderPercent),
    delayMin,
    delayMax,
    reorderHoldMs: checkDuration('reorderHoldMs', options.reorderHoldMs, 50),
    seed,
    impairToServer: directions !== 'to-client',
    impairToClient: directions !== 'to-server',
    idleTimeoutMs,
    maxSessions: checkInteger('maxSessions', options.maxSessions, 1024, 1, 1_000_000),
    maxPendingDatagrams: checkInteger('maxPendingDatagrams', options.maxPendingDatagrams, 4096, 0, 10_000_000),
  };
}

async function resolveHost(host: string, role: string): Promise<string> {
  if (isIP(host) !== 0) return host;
  try {
    return (await lookup(host)).address;
  } catch (error) {
    throw new UsageError(`lossy UDP relay: cannot resolve the ${role} host "${host}"`, { cause: error });
  }
}

export class LossyUdpRelay {
  /** The address clients send to. */
  readonly address: { host: string; port: number };
  /** The PRNG seed in use: pass it back as `options.seed` to replay a run. */
  readonly seed: number;
  private readonly counters: LossyUdpRelayStats = {
    forwarded: 0, dropped: 0, duplicated: 0, reordered: 0, toServer: 0, toClient: 0, overflowed: 0, errors: 0,
  };

  private readonly sessions = new Map<string, Session>();
  private readonly closingSockets = new Set<Promise<void>>();
  private sessionOrdinal = 0;
  private pendingDatagrams = 0;
  private closePromise: Promise<void> | undefined;

  private constructor(
    private readonly listener: Socket,
    private readonly settings: RelaySettings,
    private readonly targetAddress: string,
  ) {
    const bound = listener.address();
    this.address = { host: bound.address, port: bound.port };
    this.seed = settings.seed;
    listener.on('message', (payload, remote) => this.onClientDatagram(payload, remote));
    listener.on('error', () => {
      this.counters.errors += 1;
    });
  }

  /** Validates the options, resolves the target, binds the listening socket and resolves once bound. */
  static async start(options: LossyUdpRelayOptions): Promise<LossyUdpRelay> {
    const settings = validate(options);
    const targetAddress = await resolveHost(options.target.host, 'target');
    const listenAddress = await resolveHost(options.listenHost ?? '127.0.0.1', 'listen');
    const listenPort = checkInteger('listenPort', options.listenPort, 0, 0, 65535);
    const listener = createUdpSocket(listenAddress);
    try {
      await bindUdpSocket(listener, listenPort, listenAddress);
    } catch (error) {
      await closeUdpSocket(listener);
      throw error;
    }
    return new LossyUdpRelay(listener, settings, targetAddress);
  }

  /** A snapshot of the counters. */
  get stats(): Readonly<LossyUdpRelayStats> {
    return { ...this.counters };
  }

  /** Client sessions currently open. */
  get sessionCount(): number {
    return this.sessions.size;
  }

  /** Closes the listening socket and every upstream socket, and clears every timer. Idempotent. */
  close(): Promise<void> {
    this.closePromise ??= this.shutdown();
    return this.closePromise;
  }

  private async shutdown(): Promise<void> {
    for (const session of [...this.sessions.values()]) this.closeSession(session);
    this.closingSockets.add(closeUdpSocket(this.listener));
    await Promise.all(this.closingSockets);
    // node:dgram reports 'close' before libuv has released the handle, which happens in the
    // close phase of the event loop: let one full turn pass so no handle outlives close().
    await new Promise((resolve) => setImmediate(resolve));
    await new Promise((resolve) => setImmediate(resolve));
  }

  private onClientDatagram(payload: Buffer, remote: RemoteInfo): void {
    if (this.closePromise !== undefined) return;
    this.counters.toServer += 1;
    const key = `[${remote.address}]:${remote.port}`;
    const session = this.sessions.get(key) ?? this.openSession(key, remote);
    if (session === undefined) {
      this.counters.overflowed += 1;
      return;
    }
    session.idleTimer.refresh();
    session.toServer.push(payload, session.serverPort);
  }

  private openSession(key: string, remote: RemoteInfo): Session | undefined {
    if (this.sessions.size >= this.settings.maxSessions) return undefined;
    const ordinal = this.sessionOrdinal++;
    const upstream = createUdpSocket(this.targetAddress);
    const timers = new Set<NodeJS.Timeout>();
    const idleTimer = setTimeout(() => this.closeSession(session), this.settings.idleTimeoutMs);
    idleTimer.unref();
    const session: Session = {
      key,
      clientAddress: remote.address,
      clientPort: remote.port,
      upstream,
      serverPort: this.settings.targetPort,
      toServer: new Lane(this.counters, this.settings, this.settings.impairToServer, mulberry32(laneSeed(this.settings.seed, ordinal, 0)),
        (datagram) => this.transmit(session, datagram, upstream, this.targetAddress)),
      toClient: new Lane(this.counters, this.settings, this.settings.impairToClient, mulberry32(laneSeed(this.settings.seed, ordinal, 1)),
        (datagram) => this.transmit(session, datagram, this.listener, remote.address)),
      timers,
      idleTimer,
      closed: false,
    };
    this.sessions.set(key, session);
    upstream.on('message', (payload, from) => this.onServerDatagram(session, payload, from));
    upstream.on('error', () => {
      // A failed bind leaves the socket unusable: count it and let the next datagram start over.
      this.counters.errors += 1;
      this.closeSession(session);
    });
    const loopback = isLoopbackAddress(this.targetAddress) ? (udpSocketType(this.targetAddress) === 'udp6' ? '::1' : '127.0.0.1') : undefined;
    // Sends issued before the bind completes are queued by node:dgram.
    upstream.bind(0, loopback);
    return session;
  }

  private onServerDatagram(session: Session, payload: Buffer, from: RemoteInfo): void {
    if (session.closed || from.address !== this.targetAddress) return;
    this.counters.toClient += 1;
    session.serverPort = from.port;
    session.idleTimer.refresh();
    session.toClient.push(payload, session.clientPort);
  }

  private transmit(session: Session, datagram: Datagram, socket: Socket, address: string): void {
    if (datagram.copies === 2) this.counters.duplicated += 1;
    for (let copy = 0; copy < datagram.copies; copy += 1) {
      if (datagram.delayMs <= 0) {
        this.send(session, socket, datagram.payload, datagram.port, address);
        continue;
      }
      if (this.pendingDatagrams >= this.settings.maxPendingDatagrams) {
        this.counters.overflowed += 1;
        continue;
      }
      this.pendingDatagrams += 1;
      const timer = setTimeout(() => {
        session.timers.delete(timer);
        this.pendingDatagrams -= 1;
        this.send(session, socket, datagram.payload, datagram.port, address);
      }, datagram.delayMs);
      session.timers.add(timer);
    }
  }

  private send(session: Session, socket: Socket, payload: Buffer, port: number, address: string): void {
    if (session.closed) return;
    this.counters.forwarded += 1;
    try {
      socket.send(payload, port, address, (error) => {
        if (error) this.counters.errors += 1;
      });
    } catch {
      this.counters.errors += 1;
    }
  }

  private closeSession(session: Session): void {
    if (session.closed) return;
    session.closed = true;
    this.sessions.delete(session.key);
    clearTimeout(session.idleTimer);
    session.toServer.clear();
    session.toClient.clear();
    for (const timer of session.timers) clearTimeout(timer);
    this.pendingDatagrams -= session.timers.size;
    session.timers.clear();
    const closing = closeUdpSocket(session.upstream);
    this.closingSockets.add(closing);
    void closing.then(() => this.closingSockets.delete(closing));
  }
}
