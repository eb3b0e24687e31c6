import { randomBytes } from 'node:crypto';
import dgram, { type RemoteInfo } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { portUnreachable } from '../../core/client.js';
import { WharfError, isWharfErrorCode, type WharfErrorCode } from '../../core/errors.js';
import {
  CLIENT_ID,
  decodeServerMessage,
  encodeMessage,
  encodePaddedRequest,
  isWharfMessage,
  textProblem,
  writeMessageBytes,
  type ClientMessage,
  type PageEntry,
  type ServerMessage,
  type WireEntry,
} from './protocol.js';

/** The largest answer to a login or clear (an error's sentence included), for padding requests. */
const SMALL_ANSWER_BYTES = 300;

export interface DiaryClientOptions {
  host?: string;
  port?: number;
  /** Give up an operation after this long without any progress. Default 10,000 ms. */
  timeoutMs?: number;
  /** First retransmission timeout, before the round trip is measured. Default 300 ms. */
  retransmitMs?: number;
  /**
   * Bounds of the measured retransmission timeout. Defaults 200 ms (as TCP on Linux: a server
   * that is busy committing must not look like a lost datagram) and 3,000 ms.
   */
  minRetransmitMs?: number;
  maxRetransmitMs?: number;
  /** Entries sent and not yet acknowledged, at most. Default 1,024. */
  window?: number;
  /** Entries packed into one datagram, at most. Default 64. */
  maxEntriesPerDatagram?: number;
  /** Size a datagram is packed up to (one longer entry still goes alone). Default 1,200 bytes. */
  maxDatagramBytes?: number;
  /** Longest entry this client sends, in bytes of UTF-8 (the server's default). Default 4,096. */
  maxEntryBytes?: number;
  /** This client's id: 16 hex digits. Default: 64 random bits. */
  clientId?: string;
}

/** An entry as the server stored it. */
export interface WrittenEntry {
  /** This client's sequence number for it. */
  seq: number;
  text: string;
  /** When the server stored it; undefined when it no longer knows (resent after a clear). */
  time: Date | undefined;
}

/** An entry read from a diary. */
export interface DiaryEntry {
  id: number;
  time: Date;
  text: string;
  /** An account name, or the writer's `ip:port`. */
  by: string | undefined;
}

export interface ReadOptions {
  /** An account's diary; default the public diary. */
  diary?: string;
  /** Only entries stored at this time or later. */
  since?: Date;
  /** Page size to ask for, in bytes (the server caps it). Default 1,400. */
  pageBytes?: number;
}

interface PendingEntry {
  seq: number;
  diary: string | undefined;
  text: string;
  resolve: (entry: WrittenEntry) => void;
  reject: (error: Error) => void;
  sentAt: number | undefined;
  resent: boolean;
  /** The server said it holds this entry (behind a gap): no need to resend it. */
  held: boolean;
  /** What it adds to a WRITE datagram, in bytes. */
  wireBytes: number;
}

interface PendingRequest {
  /** With the answer, or undefined to give up (timeout, close). */
  resolve: (message: ServerMessage | undefined) => void;
}

const randomId = () => randomBytes(8).toString('hex');

/**
 * A client of wharf's own diary protocol (docs/diary.md).
 *
 * **Writes are never lost and never doubled.** Every entry gets the next number of this client's
 * sequence; the client sends entries in order, several per datagram and up to `window` ahead,
 * and resends everything unacknowledged when the retransmission timer fires (go-back-N, with the
 * timeout measured from the round trip as TCP does). The server stores each client's entries in
 * sequence order, each number once, and acknowledges cumulatively ("stored up to N") only after
 * its transaction committed. `write` resolves when its entry is acknowledged.
 *
 * **Forged acknowledgements are ignored.** An acknowledgement counts only if it comes from the
 * address and port this client sends to, names this client's random 64-bit id, and acknowledges
 * no more than this client has sent. (On a LAN anyone who can see the traffic can still forge
 * one: see the threat model in docs/diary.md.)
 */
export class DiaryClient {
  #clientId: string;
  readonly #socket: dgram.Socket;
  readonly #address: string;
  readonly #port: number;
  readonly #timeoutMs: number;
  readonly #minRto: number;
  readonly #maxRto: number;
  readonly #window: number;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #maxEntryBytes: number;
  readonly #requests = new Map<string, PendingRequest>();
  readonly #entries = new Map<number, PendingEntry>();
  #token: string | undefined;
  #credentials: { user: string; password: string } | undefined;
  #account: { name: string; role: 'user' | 'admin' } | undefined;
  #nextSeq = 1;
  /** Every entry up to this one is acknowledged. */
  #acked = 0;
  /** The next entry to send for the first time. */
  #sendCursor = 1;
  #rto: number;
  #srtt: number | undefined;
  #rttvar = 0;
  #timer: NodeJS.Timeout | undefined;
  #lastProgress = 0;
  /** Retransmission timeouts in a row without progress. */
  #timeouts = 0;
  #pumpScheduled = false;
  #relogin: Promise<void> | undefined;
  #closed = false;
  #lastSocketError: string | undefined;
  /** Has the server ever answered? Until it has, "port unreachable" means it is not running. */
  #heardFromServer = false;
  /** Set when the kernel reported the server's port closed before it ever answered. */
  #refusal: WharfError | undefined;
  /** Counters: datagrams sent, entries resent, acknowledgements ignored as forged or stale. */
  readonly stats = { datagrams: 0, resent: 0, ignored: 0 };

  private constructor(socket: dgram.Socket, address: string, port: number, options: DiaryClientOptions) {
    this.#socket = socket;
    this.#address = address;
    this.#port = port;
    this.#clientId = options.clientId ?? randomId();
    if (!CLIENT_ID.test(this.#clientId)) throw new WharfError('EBADVALUE', 'a client id is 16 lower-case hex digits');
    this.#timeoutMs = options.timeoutMs ?? 10_000;
    this.#minRto = options.minRetransmitMs ?? 200;
    this.#maxRto = options.maxRetransmitMs ?? 3_000;
    this.#rto = options.retransmitMs ?? 300;
    this.#window = options.window ?? 1024;
    this.#maxEntries = options.maxEntriesPerDatagram ?? 64;
    this.#maxBytes = options.maxDatagramBytes ?? 1200;
    this.#maxEntryBytes = options.maxEntryBytes ?? 4096;
    socket.on('message', (message, from) => this.#onDatagram(message, from));
    socket.on('error', (error) => {
      this.#lastSocketError = error.message;
      // Port unreachable from a server that never answered: it is not running, so fail now rather
      // than after the timeout. From one that has answered, it is taken for a restart: a lost
      // datagram, which the timers resend.
      if ((error as NodeJS.ErrnoException).code === 'ECONNREFUSED' && !this.#heardFromServer) this.#refuse();
    });
  }

  /** Open a client socket for the diary server at host:port (default 127.0.0.1:8888). */
  static async connect(options: DiaryClientOptions = {}): Promise<DiaryClient> {
    const host = options.host ?? '127.0.0.1';
    const port = options.port ?? 8888;
    let address = host;
    if (isIP(host) === 0) {
      try {
        address = (await lookup(host)).address;
      } catch (error) {
        throw new WharfError('ENOHOST', `cannot resolve ${host}`, { cause: error });
      }
    }
    // A connected socket: the kernel itself drops datagrams from any other address and port
    // (the first line of defence against forged acknowledgements), and sends need no address.
    const socket = dgram.createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    try {
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.connect(port, address, () => {
          socket.off('error', reject);
          resolve();
        });
      });
    } catch (error) {
      socket.close();
      throw new WharfError('ECONNECT', `cannot reach the diary server at ${address}:${port}: ${(error as Error).message}`, { cause: error });
    }
    return new DiaryClient(socket, address, port, options);
  }

  /**
   * This client's id in wharf's protocol. It changes only after writes failed (timed out): the
   * next writes start a new sequence, so that they never wait behind entries the server may
   * never have received.
   */
  get clientId(): string {
    return this.#clientId;
  }

  /** The account logged in, if any. */
  get account(): { name: string; role: 'user' | 'admin' } | undefined {
    return this.#account;
  }

  /** The current retransmission timeout, ms (measured from the round trips). */
  get retransmitTimeoutMs(): number {
    return this.#rto;
  }

  /** Entries written and not yet acknowledged. */
  get pending(): number {
    return this.#entries.size;
  }

  /**
   * Log in: later requests act as this account (its own diary, its right to clear). The
   * credentials are kept in memory to log in again if the session expires.
   */
  async login(user: string, password: string): Promise<{ name: string; role: 'user' | 'admin' }> {
    const answer = await this.#request({ op: 'login', rid: randomId(), user, pass: password });
    if (answer.op !== 'login') throw unexpected(answer);
    this.#token = answer.tok;
    this.#credentials = { user, password };
    this.#account = { name: answer.user, role: answer.role };
    return this.#account;
  }

  /**
   * Add an entry; resolves once the server has stored it (durably: its transaction committed).
   * `diary`: an account's diary (the logged-in account's own); default the public diary.
   */
  write(text: string, options: { diary?: string } = {}): Promise<WrittenEntry> {
    if (this.#closed) return Promise.reject(new WharfError('ECLOSED', 'the diary client is closed'));
    const problem = textProblem(text, this.#maxEntryBytes);
    if (problem) return Promise.reject(new WharfError(problem.code, problem.message));
    const seq = this.#nextSeq++;
    return new Promise<WrittenEntry>((resolve, reject) => {
      this.#entries.set(seq, { seq, diary: options.diary, text, resolve, reject, sentAt: undefined, resent: false, held: false, wireBytes: wireBytes(seq, text) });
      if (this.#entries.size === 1) this.#lastProgress = performance.now();
      this.#schedulePump();
    });
  }

  /** Resolves when every entry written so far is acknowledged (or rejects with the first failure). */
  async flush(): Promise<void> {
    const waiting = [...this.#entries.values()].map(
      (entry) =>
        new Promise<void>((resolve, reject) => {
          const { resolve: done, reject: failed } = entry;
          entry.resolve = (written) => {
            done(written);
            resolve();
          };
          entry.reject = (error) => {
            failed(error);
            reject(error);
          };
        }),
    );
    await Promise.all(waiting);
  }

  /** Every entry of a diary (or those since a time), oldest first, read page by page. */
  async read(options: ReadOptions = {}): Promise<DiaryEntry[]> {
    const entries: DiaryEntry[] = [];
    for await (const page of this.pages(options)) entries.push(...page);
    return entries;
  }

  /** The diary page by page: each page is one datagram, asked for with the last id seen. */
  async *pages(options: ReadOptions = {}): AsyncGenerator<DiaryEntry[]> {
    let after = 0;
    for (;;) {
      const answer = await this.#request({
        op: 'read',
        rid: randomId(),
        ...(this.#token ? { tok: this.#token } : {}),
        ...(options.diary ? { d: options.diary } : {}),
        ...(options.since ? { since: Math.max(0, options.since.getTime()) } : {}),
        after,
        max: options.pageBytes ?? 1400,
      });
      if (answer.op !== 'page') throw unexpected(answer);
      yield answer.entries.map((e: PageEntry) => ({ id: e.id, time: new Date(e.t), text: e.text, by: e.by }));
      if (!answer.more || answer.next <= after) return;
      after = answer.next;
    }
  }

  /**
   * Empty a diary (the public one needs an admin, or a server with `anonymousClear`). Entries
   * written before are stored first; a resent clear is not applied twice. Resolves with how many
   * entries it removed.
   */
  async clear(options: { diary?: string } = {}): Promise<number> {
    await this.flush();
    const rid = randomId();
    const answer = await this.#request({ op: 'clear', rid, ...(this.#token ? { tok: this.#token } : {}), ...(options.diary ? { d: options.diary } : {}) });
    if (answer.op !== 'cleared') throw unexpected(answer);
    return answer.removed;
  }

  /** Close the socket; entries not yet acknowledged are rejected. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    for (const request of [...this.#requests.values()]) request.resolve(undefined);
    this.#failAll(new WharfError('ECLOSED', 'the diary client was closed before the server acknowledged the entry'));
    await new Promise<void>((resolve) => this.#socket.close(() => resolve()));
  }

  // ---- requests (login, read, clear): resent until answered ----

  async #request(message: Extract<ClientMessage, { rid: string }>, relogged = false): Promise<ServerMessage> {
    if (this.#closed) throw new WharfError('ECLOSED', 'the diary client is closed');
    this.#refusal = undefined;
    const datagram = encodePaddedRequest(message, message.op === 'read' ? (message.max ?? 1400) : SMALL_ANSWER_BYTES);
    const answer = await new Promise<ServerMessage | undefined>((resolve) => {
      const started = performance.now();
      let wait = Math.max(this.#rto, 100);
      let timer: NodeJS.Timeout | undefined;
      const finish = (value: ServerMessage | undefined) => {
        clearTimeout(timer);
        this.#requests.delete(message.rid);
        resolve(value);
      };
      const attempt = () => {
        if (this.#closed) return finish(undefined);
        if (performance.now() - started > this.#timeoutMs) return finish(undefined);
        this.#sendDatagram(datagram);
        timer = setTimeout(attempt, wait);
        wait = Math.min(wait * 2, this.#maxRto);
      };
      this.#requests.set(message.rid, { resolve: finish });
      attempt();
    });
    if (!answer) {
      if (this.#closed) throw new WharfError('ECLOSED', 'the diary client is closed');
      if (this.#refusal) throw this.#refusal;
      throw new WharfError('EDEADLINE', `no answer from the diary server at ${this.#where()} within ${this.#timeoutMs} ms${this.#hint()}`);
    }
    if (answer.op === 'error') {
      if (answer.code === 'EAUTH' && message.op !== 'login' && !relogged && this.#credentials) {
        await this.#loginAgain();
        return this.#request({ ...message, rid: randomId(), ...(this.#token ? { tok: this.#token } : {}) }, true);
      }
      throw new WharfError(wharfCodeOf(answer.code), answer.message);
    }
    return answer;
  }

  #where(): string {
    return `${this.#address.includes(':') ? `[${this.#address}]` : this.#address}:${this.#port}`;
  }

  /** ' (is it running?)', with the last socket error when there was one. */
  #hint(): string {
    return this.#lastSocketError ? ` (is it running? ${this.#lastSocketError})` : ' (is it running?)';
  }

  async #loginAgain(): Promise<void> {
    this.#relogin ??= (async () => {
      try {
        const credentials = this.#credentials;
        if (!credentials) throw new WharfError('EAUTH', 'the session has expired');
        await this.login(credentials.user, credentials.password);
      } finally {
        this.#relogin = undefined;
      }
    })();
    return this.#relogin;
  }

  // ---- incoming ----

  #refuse(): void {
    this.#refusal = portUnreachable(this.#address, this.#port, 'diary server');
    this.#failAll(this.#refusal);
    for (const request of [...this.#requests.values()]) request.resolve(undefined);
  }

  #onDatagram(datagram: Buffer, from: RemoteInfo): void {
    // Only the server we talk to; anything else is ignored (a forged or stray datagram).
    if (from.address !== this.#address || from.port !== this.#port || !isWharfMessage(datagram)) {
      this.stats.ignored += 1;
      return;
    }
    this.#heardFromServer = true;
    const message = decodeServerMessage(datagram);
    if (!message) {
      this.stats.ignored += 1;
      return;
    }
    if (message.op === 'ack') {
      this.#onAck(message);
      return;
    }
    if (message.op === 'error' && message.c !== undefined) {
      if (message.c === this.#clientId) this.#onWriteError(message);
      else this.stats.ignored += 1;
      return;
    }
    const rid = 'rid' in message ? message.rid : undefined;
    const request = rid === undefined ? undefined : this.#requests.get(rid);
    if (request) request.resolve(message);
    else this.stats.ignored += 1;
  }

  #onAck(ack: Extract<ServerMessage, { op: 'ack' }>): void {
    // Acknowledging what this client never sent means the datagram is forged or garbled.
    const held = ack.held ?? [];
    const plausible = held.every(([lo, hi]) => lo > ack.upTo && lo <= hi && hi < this.#sendCursor);
    if (ack.c !== this.#clientId || ack.upTo >= this.#sendCursor || !plausible) {
      this.stats.ignored += 1;
      return;
    }
    const now = performance.now();
    // The newest send time among what this answer says arrived, for the loss detection below.
    let newestDelivered = 0;
    if (ack.upTo > this.#acked) {
      const times = new Map(ack.t ?? []);
      const refused = new Map((ack.rej ?? []).map(([seq, code, message]) => [seq, { code, message }]));
      const newest = this.#entries.get(ack.upTo);
      if (newest?.sentAt !== undefined && !newest.resent) this.#measure(now - newest.sentAt);
      for (let seq = this.#acked + 1; seq <= ack.upTo; seq++) {
        const entry = this.#entries.get(seq);
        if (!entry) continue;
        this.#entries.delete(seq);
        // A resent entry does not say when what arrived was sent (the first copy or the second?).
        if (!entry.resent) newestDelivered = Math.max(newestDelivered, entry.sentAt ?? 0);
        const refusal = refused.get(seq);
        if (refusal) entry.reject(new WharfError(wharfCodeOf(refusal.code), `the server refused the entry: ${refusal.message}`));
        else {
          const ms = times.get(seq) ?? (ack.from !== undefined && seq >= ack.from ? ack.at : undefined);
          entry.resolve({ seq, text: entry.text, time: ms === undefined ? undefined : new Date(ms) });
        }
      }
      this.#acked = ack.upTo;
      this.#lastProgress = now;
      this.#timeouts = 0;
      this.#rto = this.#computedRto();
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    for (const [lo, hi] of held) {
      for (let seq = lo; seq <= hi; seq++) {
        const entry = this.#entries.get(seq);
        if (!entry) continue;
        entry.held = true;
        if (!entry.resent) newestDelivered = Math.max(newestDelivered, entry.sentAt ?? 0);
      }
    }
    if (newestDelivered > 0) this.#detectLosses(newestDelivered, now);
    this.#pump();
  }

  /**
   * Time-based loss detection (TCP's RACK, RFC 8985): the server has an entry sent at
   * `newestDelivered`, so an unacknowledged entry it does not hold that was sent before that
   * (by more than a little reordering) was lost: resend it now rather than wait for the timer.
   */
  #detectLosses(newestDelivered: number, now: number): void {
    const reorderWindow = Math.min(10, (this.#srtt ?? this.#rto) / 4);
    const lost: PendingEntry[] = [];
    for (let seq = this.#acked + 1; seq < this.#sendCursor; seq++) {
      const entry = this.#entries.get(seq);
      if (!entry || entry.held || entry.sentAt === undefined) continue;
      // First sends go out in sequence order: from the first one sent too late to count, every
      // later entry was sent later still (a resent one, later than its first send). Stop here.
      if (!entry.resent && entry.sentAt + reorderWindow >= newestDelivered) break;
      if (entry.sentAt + reorderWindow < newestDelivered && now - entry.sentAt > reorderWindow) lost.push(entry);
    }
    if (lost.length > 0) this.#send(lost, true);
  }

  #onWriteError(error: Extract<ServerMessage, { op: 'error' }>): void {
    if (error.code === 'EAUTH' && this.#credentials) {
      this.#loginAgain().then(
        () => this.#resendUnacknowledged(0),
        (failure: unknown) => this.#failAll(failure instanceof Error ? failure : new WharfError('EAUTH', String(failure))),
      );
      return;
    }
    this.#failAll(new WharfError(wharfCodeOf(error.code), error.message));
  }

  // ---- outgoing entries ----

  #measure(sample: number): void {
    // RFC 6298.
    if (this.#srtt === undefined) {
      this.#srtt = sample;
      this.#rttvar = sample / 2;
    } else {
      this.#rttvar = 0.75 * this.#rttvar + 0.25 * Math.abs(this.#srtt - sample);
      this.#srtt = 0.875 * this.#srtt + 0.125 * sample;
    }
    this.#rto = Math.min(this.#maxRto, Math.max(this.#minRto, this.#srtt + 4 * this.#rttvar));
  }

  #computedRto(): number {
    if (this.#srtt === undefined) return this.#rto;
    return Math.min(this.#maxRto, Math.max(this.#minRto, this.#srtt + 4 * this.#rttvar));
  }

  #schedulePump(): void {
    if (this.#pumpScheduled) return;
    this.#pumpScheduled = true;
    // After the current turn: entries written together go out together.
    setImmediate(() => {
      this.#pumpScheduled = false;
      this.#pump();
    });
  }

  /** Send entries not sent yet, within the window. */
  #pump(): void {
    if (this.#closed || this.#relogin) return;
    const limit = Math.min(this.#nextSeq - 1, this.#acked + this.#window);
    if (this.#sendCursor <= limit) {
      const fresh: PendingEntry[] = [];
      for (let seq = this.#sendCursor; seq <= limit; seq++) {
        const entry = this.#entries.get(seq);
        if (entry) fresh.push(entry);
      }
      this.#sendCursor = limit + 1;
      this.#send(fresh, false);
    }
    this.#arm();
  }

  /** Resend every unacknowledged entry the server does not hold, sent at least `olderThanMs` ago. */
  #resendUnacknowledged(olderThanMs: number): number {
    if (this.#closed) return 0;
    const now = performance.now();
    const due: PendingEntry[] = [];
    for (let seq = this.#acked + 1; seq < this.#sendCursor; seq++) {
      const entry = this.#entries.get(seq);
      if (entry && !entry.held && (entry.sentAt === undefined || now - entry.sentAt >= olderThanMs)) due.push(entry);
    }
    this.#send(due, true);
    this.#arm();
    return due.length;
  }

  /** Pack entries into datagrams (one diary per datagram, up to the count and size limits) and send them. */
  #send(entries: readonly PendingEntry[], resend: boolean): void {
    const now = performance.now();
    let index = 0;
    while (index < entries.length) {
      const first = entries[index]!;
      const message: Extract<ClientMessage, { op: 'write' }> = { op: 'write', c: this.#clientId, ...(this.#token ? { tok: this.#token } : {}), ...(first.diary ? { d: first.diary } : {}), e: [] };
      const wire: WireEntry[] = message.e;
      let bytes = writeMessageBytes(message);
      while (index < entries.length && wire.length < this.#maxEntries) {
        const entry = entries[index]!;
        if (entry.diary !== first.diary) break;
        if (wire.length > 0 && bytes + entry.wireBytes > this.#maxBytes) break;
        wire.push([entry.seq, entry.text]);
        bytes += entry.wireBytes;
        if (resend || entry.sentAt !== undefined) {
          entry.resent = true;
          this.stats.resent += 1;
        }
        entry.sentAt = now;
        index += 1;
      }
      this.#sendDatagram(encodeMessage(message));
    }
  }

  #sendDatagram(datagram: Buffer): void {
    this.stats.datagrams += 1;
    try {
      this.#socket.send(datagram, (error) => {
        // A send error (no route, ICMP unreachable) is a lost datagram: the timers resend.
        if (error) this.#lastSocketError = error.message;
      });
    } catch (error) {
      this.#lastSocketError = (error as Error).message;
    }
  }

  /** Keep the retransmission timer running while entries are unacknowledged. */
  #arm(): void {
    if (this.#timer !== undefined || this.#sendCursor <= this.#acked + 1) return;
    this.#timer = setTimeout(() => this.#onTimeout(), this.#rto);
  }

  #onTimeout(): void {
    this.#timer = undefined;
    if (this.#closed || this.#sendCursor <= this.#acked + 1) return;
    if (performance.now() - this.#lastProgress > this.#timeoutMs) {
      this.#failAll(new WharfError('EDEADLINE', `the diary server at ${this.#where()} acknowledged nothing for ${this.#timeoutMs} ms${this.#hint()}`));
      return;
    }
    this.#timeouts += 1;
    // Twice without progress: the server may have forgotten what it held (it drops a silent
    // client's held entries); stop trusting its word and resend those too.
    if (this.#timeouts >= 2) for (const entry of this.#entries.values()) entry.held = false;
    // As TCP: resend only the oldest unacknowledged datagram's worth, and back off. A timeout on
    // a server that is merely slow then costs one duplicate datagram, not a window of them; a
    // real loss of several datagrams is found by the answer to this one (#detectLosses).
    const oldest: PendingEntry[] = [];
    for (let seq = this.#acked + 1; seq < this.#sendCursor && oldest.length < this.#maxEntries; seq++) {
      const entry = this.#entries.get(seq);
      if (entry && !entry.held) oldest.push(entry);
    }
    this.#send(this.#oneDatagram(oldest), true);
    this.#rto = Math.min(this.#rto * 2, this.#maxRto);
    this.#arm();
  }

  /** The first of `entries` that fit in one datagram (same diary, within the size limit). */
  #oneDatagram(entries: readonly PendingEntry[]): PendingEntry[] {
    const first = entries[0];
    if (!first) return [];
    const chosen: PendingEntry[] = [];
    let bytes = 64;
    for (const entry of entries) {
      if (entry.diary !== first.diary || (chosen.length > 0 && bytes + entry.wireBytes > this.#maxBytes)) break;
      chosen.push(entry);
      bytes += entry.wireBytes;
    }
    return chosen;
  }

  #failAll(error: Error): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const entries = [...this.#entries.values()];
    this.#entries.clear();
    // The server may hold some of these entries and not others: a new sequence under a new id
    // keeps later writes from waiting behind a gap that will never be filled.
    this.#clientId = randomId();
    this.#nextSeq = 1;
    this.#acked = 0;
    this.#sendCursor = 1;
    this.#timeouts = 0;
    for (const entry of entries) entry.reject(error);
  }
}

/** Characters JSON.stringify escapes (to more bytes than UTF-8 takes): quotes, backslashes, controls, lone surrogates. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what this looks for
const NEEDS_ESCAPE = /["\\\u0000-\u001f\p{Cs}]/u;

/** The bytes `[seq,"text"],` adds to a WRITE datagram's JSON. */
function wireBytes(seq: number, text: string): number {
  const quoted = NEEDS_ESCAPE.test(text) ? Buffer.byteLength(JSON.stringify(text)) : Buffer.byteLength(text) + 2;
  return quoted + String(seq).length + 4;
}

function unexpected(message: ServerMessage): WharfError {
  return new WharfError('EPROTOCOL', `unexpected answer from the diary server: ${message.op}`);
}

/** A code the server answered with as the client's error code: the diary protocol carries wharf's codes; an unknown one (a newer server) is the server's refusal. */
function wharfCodeOf(code: string): WharfErrorCode {
  return isWharfErrorCode(code) ? code : 'ESERVER';
}
