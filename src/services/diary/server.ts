import { createHash } from 'node:crypto';
import { hostname } from 'node:os';
import { z } from 'zod';
import { listenSchema, portSchema } from '../../core/config.js';
import { WharfError } from '../../core/errors.js';
import { silentLogger, type Logger } from '../../core/logger.js';
import type { ServiceMetrics } from '../../core/metrics.js';
import { AnswerBudget } from '../../core/answer-budget.js';
import { RateLimiter } from '../../core/rate-limiter.js';
import type { PortalRegistry } from '../../core/portal.js';
import type { ClientCommand, ListeningAddress, RunningService, ServiceContext, ServiceDefinition } from '../../core/service.js';
import { hostUdpPorts } from '../../core/udp-guard.js';
import { DatagramServer, type DatagramPeer } from '../../core/udp-server.js';
import { loginFailureLine, type Role, type Store } from '../../store/index.js';
import { requireStore } from '../../store/service-store.js';
import { DiaryStore, PUBLIC_DIARY, describeDiary, type SequencedEntry, type StoredEntry } from './diary-store.js';
import {
  CLEARED_REPLY,
  DiaryProtocolError,
  SEED_REPLIES,
  decodeClientMessage,
  emptyPageBytes,
  encodeMessage,
  formatReadReply,
  isValidTimeZone,
  isWharfMessage,
  pageEntryBytes,
  parseSeedDatagram,
  stampedLine,
  textProblem,
  type ClientMessage,
  type PageEntry,
  type ServerMessage,
} from './protocol.js';
import { DiaryWriter } from './writer.js';
import { DiaryFeed } from './portal/feed.js';
import { diaryPortalSection } from './portal/section.js';

export const diaryConfigSchema = z
  .object({
    ...listenSchema,
    port: portSchema.default(8888),
    /** Let an anonymous client (a seed client) empty the public diary with `-c`, as the seed did. */
    anonymousClear: z.boolean().default(false),
    /** Time zone of the `[asctime]` stamps sent to seed clients (an IANA name); default: local time. */
    timeZone: z
      .string()
      .refine((zone) => isValidTimeZone(zone), { message: 'not a time zone this system knows (try UTC or Asia/Shanghai)' })
      .optional(),
    /** Longest entry, in bytes of UTF-8. */
    maxEntryBytes: z.number().int().min(16).max(8192).default(4096),
    /**
     * Largest `-r` answer to a seed client. The seed's client reads with recv(1024): anything past
     * 1,024 bytes would be cut by its kernel, so by default the answer holds the newest entries
     * that fit in 1,024 bytes and says so. Raise it for clients that read more (up to 65,507).
     */
    readReplyBytes: z.number().int().min(256).max(65_507).default(1024),
    /** Largest page wharf's client may ask for (it asks for 1,400 bytes unless told otherwise). */
    maxPageBytes: z.number().int().min(512).max(60_000).default(8192),
    /** Entries in one WRITE datagram. */
    maxEntriesPerWrite: z.number().int().min(1).max(1024).default(256),
    /** Datagrams per second from one IP address, sustained; past it they are dropped unanswered. */
    ratePerSecond: z.number().positive().default(2000),
    /** Datagrams from one IP address at once (default: twice the rate). */
    burst: z.number().int().positive().optional(),
    /**
     * Anti-amplification (docs/diary.md): an address gets back at most 3× the bytes it sent,
     * plus this credit, which refills at `answerCreditBytesPerSecond`. The seed's `-r` (2 bytes
     * for up to `readReplyBytes`) is paid from the credit; wharf's client pads its requests.
     */
    answerCreditBytes: z.number().int().min(0).max(1_000_000).default(4096),
    answerCreditBytesPerSecond: z.number().min(0).max(1_000_000).default(256),
    /** Apply that bound to loopback clients too (only this machine can send from loopback). */
    answerBudgetOnLoopback: z.boolean().default(false),
    /** Lifetime of a login session of wharf's protocol. */
    sessionTtlMs: z.number().int().positive().default(24 * 3600 * 1000),
    maxSessionsPerAccount: z.number().int().min(1).default(16),
    /** Entries held back waiting for an earlier one of the same client (over all clients / per client). */
    maxHeldEntries: z.number().int().min(1).default(20_000),
    maxHeldPerClient: z.number().int().min(1).default(2048),
    /** Seed entries waiting for their commit before new ones are answered "try again". */
    maxQueuedSeedEntries: z.number().int().min(1).default(20_000),
    /** Kernel receive buffer (SO_RCVBUF), to ride out bursts while a commit runs. */
    receiveBufferBytes: z.number().int().min(0).default(4 * 1024 * 1024),
    /**
     * SQLite only: the diary's commits are fsynced (`synchronous = FULL` on the diary's own
     * connection), so that an acknowledged entry survives a power cut too, not just a crash of
     * the process (which the default already survives). The rest of the store is unchanged.
     */
    fsync: z.boolean().default(false),
    /** The portal's page (docs/portal.md): visitors without an account may write the public diary, as seed clients may. */
    portalAnonymousWrite: z.boolean().default(true),
    /** Entries written from the portal per second per account or address, sustained, and at once. */
    portalWritesPerSecond: z.number().positive().default(1),
    portalWriteBurst: z.number().int().min(1).default(10),
    /** Live diary streams (Server-Sent Events) open at once: in all, and per account or address. */
    portalMaxStreams: z.number().int().min(1).default(1000),
    portalMaxStreamsPerClient: z.number().int().min(1).default(8),
    /** A comment on every live stream this often, so that idle proxies and timers keep it open. */
    portalHeartbeatMs: z.number().int().min(100).default(15_000),
    /** How often the live streams look for entries stored by another process (`wharf diary import`, other workers). */
    portalPollMs: z.number().int().min(0).default(5_000),
    /** Entries a reconnecting stream is sent to catch up; past it, the page reloads its list instead. */
    portalMaxCatchUp: z.number().int().min(1).max(100_000).default(1000),
  })
  .strict();

export type DiaryConfig = z.infer<typeof diaryConfigSchema>;

/** Who sent a message: an account (logged in) or nobody, and from where. */
interface Caller {
  account: string | undefined;
  role: Role | undefined;
  /** `ip:port` */
  address: string;
}

interface CachedSession {
  account: string;
  role: Role;
  expiresAt: number;
  checkedAt: number;
}

const SESSION_RECHECK_MS = 60_000;
const MAX_CACHED_SESSIONS = 10_000;
const MAX_REMEMBERED_LOGINS = 1_024;
const CLIENT_IDLE_MS = 120_000;
const PAGE_ROWS = 256;

export function addressOf(peer: Pick<DatagramPeer, 'address' | 'port'>): string {
  return peer.address.includes(':') ? `[${peer.address}]:${peer.port}` : `${peer.address}:${peer.port}`;
}

export interface DiaryServerOptions {
  store: Store;
  config: DiaryConfig;
  logger?: Logger;
  metrics?: ServiceMetrics;
  /** The UDP ports of the host's services (refused as sources: core/udp-guard.ts). */
  ownUdpPorts?: () => Iterable<number>;
  /** The host's portal: the diary adds its page there while it runs (portal/section.ts). */
  portal?: PortalRegistry;
}

/**
 * The diary server: the seed's protocol and wharf's own on one UDP port, every entry in the
 * store before it is acknowledged.
 */
export class DiaryServer implements RunningService {
  readonly name = 'diary';
  readonly diaryStore: DiaryStore;
  readonly writer: DiaryWriter;
  /** The portal's live streams, fed by the writer's commits. */
  readonly feed: DiaryFeed;
  readonly #store: Store;
  readonly #config: DiaryConfig;
  readonly #logger: Logger;
  readonly #answerBudget: AnswerBudget;
  /** Logins cost a scrypt each: at most a few per second per address, whatever the datagram rate. */
  readonly #loginLimiter = new RateLimiter({ ratePerSecond: 2, burst: 10 });
  readonly #sessions = new Map<string, CachedSession>();
  readonly #logins = new Map<string, Promise<ServerMessage>>();
  readonly #maintenance: NodeJS.Timeout;
  #udp: DatagramServer | undefined;
  #withdrawSection: (() => void) | undefined;

  private constructor(options: DiaryServerOptions) {
    this.#store = options.store;
    this.#config = options.config;
    this.#logger = options.logger ?? silentLogger();
    this.diaryStore = new DiaryStore(options.store);
    this.#answerBudget = new AnswerBudget({
      creditBytes: options.config.answerCreditBytes,
      creditBytesPerSecond: options.config.answerCreditBytesPerSecond,
      limitLoopback: options.config.answerBudgetOnLoopback,
    });
    this.writer = new DiaryWriter({
      store: this.diaryStore,
      logger: this.#logger,
      send: (peer, message) => this.#send(peer, message),
      maxHeldEntries: options.config.maxHeldEntries,
      maxHeldPerClient: options.config.maxHeldPerClient,
      maxQueuedSeedEntries: options.config.maxQueuedSeedEntries,
      changed: (change) => (change.kind === 'entries' ? change.diaries.forEach((diary) => this.feed.changed(diary)) : this.feed.cleared(change.diary)),
    });
    this.feed = new DiaryFeed({
      store: this.diaryStore,
      logger: this.#logger,
      heartbeatMs: options.config.portalHeartbeatMs,
      pollMs: options.config.portalPollMs,
      maxStreams: options.config.portalMaxStreams,
      maxStreamsPerClient: options.config.portalMaxStreamsPerClient,
      maxCatchUp: options.config.portalMaxCatchUp,
      maxQueuedBytes: 1024 * 1024,
    });
    this.#maintenance = setInterval(() => this.#maintain(), 30_000);
    this.#maintenance.unref();
  }

  static async start(options: DiaryServerOptions & { metrics?: ServiceMetrics }): Promise<DiaryServer> {
    const server = new DiaryServer(options);
    server.diaryStore.useOwnSqliteConnection({ fsync: options.config.fsync });
    server.#udp = await DatagramServer.bind({
      host: options.config.host,
      port: options.config.port,
      receiveBufferBytes: options.config.receiveBufferBytes || undefined,
      logger: server.#logger,
      metrics: options.metrics,
      guard: {
        ...(options.ownUdpPorts ? { ownPorts: options.ownUdpPorts } : {}),
        perSourcePerSecond: options.config.ratePerSecond,
        perSourceBurst: options.config.burst ?? Math.ceil(options.config.ratePerSecond * 2),
        // Every entry is a write to the store: a flood from loopback is bounded as well.
        limitLoopback: true,
      },
      onMessage: (message, peer) => server.#onMessage(message, peer),
    });
    try {
      server.#withdrawSection = options.portal?.add(server.portalSection());
    } catch (error) {
      await server.stop();
      throw error;
    }
    return server;
  }

  /** The diary's page in the browser portal, on this server's store and writer. */
  portalSection(): ReturnType<typeof diaryPortalSection> {
    const config = this.#config;
    return diaryPortalSection({
      store: this.diaryStore,
      writer: this.writer,
      feed: this.feed,
      logger: this.#logger,
      limits: { maxEntryBytes: config.maxEntryBytes, anonymousWrite: config.portalAnonymousWrite, writesPerSecond: config.portalWritesPerSecond, writeBurst: config.portalWriteBurst },
    });
  }

  /** The seed's flow, wharf's verbs and nc, for the portal's home page. */
  clientCommands(): ClientCommand[] {
    return this.addresses.flatMap((address) => {
      const host = address.address === '0.0.0.0' || address.address === '::' ? hostname() : address.address;
      const flags = `${host === '127.0.0.1' ? '' : ` -H ${host}`}${address.port === 8888 ? '' : ` -p ${address.port}`}`;
      return [
        { summary: 'read the public diary, then write each line you type', command: `wharf diary${flags}` },
        { summary: 'write an entry in the public diary', command: `wharf diary write${flags} "今天天气很好"` },
        { summary: 'read your own diary', command: `wharf diary read${flags} -u NAME` },
        { summary: "the seed's protocol by hand: a line is an entry, -r reads", command: `nc -u ${host} ${address.port}` },
      ];
    });
  }

  get addresses(): ListeningAddress[] {
    return this.#udp?.addresses ?? [];
  }

  get port(): number {
    return this.#udp?.port ?? 0;
  }

  /** Datagrams dropped by the per-address rate limit. */
  get rateLimited(): number {
    return this.#udp?.guard.refused.rate ?? 0;
  }

  /** Answers not sent: over what their address may get back before it shows it receives them. */
  get answersOverBudget(): number {
    return this.#answerBudget.dropped;
  }

  async stop(): Promise<void> {
    clearInterval(this.#maintenance);
    this.#withdrawSection?.();
    this.feed.close();
    await this.#udp?.stop();
    await this.writer.idle();
    this.diaryStore.close();
  }

  #maintain(): void {
    this.writer.sweep(CLIENT_IDLE_MS);
    const now = Date.now();
    for (const [token, session] of this.#sessions) if (session.expiresAt <= now) this.#sessions.delete(token);
    this.diaryStore.prune({ clientIdleMs: 7 * 24 * 3600 * 1000, clearsMs: 90 * 24 * 3600 * 1000 }).catch((error: unknown) => {
      this.#logger.debug({ err: String(error) }, 'diary prune failed');
    });
  }

  #send(peer: DatagramPeer, message: ServerMessage | string): void {
    const datagram = typeof message === 'string' ? Buffer.from(message) : encodeMessage(message);
    if (this.#answerBudget.spend(peer.address, datagram.length)) this.#udp?.reply(peer, datagram);
  }

  #onMessage(message: Buffer, peer: DatagramPeer): void {
    this.#answerBudget.received(peer.address, message.length);
    if (isWharfMessage(message)) {
      this.#onWharfMessage(message, peer).catch((error: unknown) => this.#failed(error, peer));
    } else {
      this.#onSeedDatagram(message, peer);
    }
  }

  #failed(error: unknown, peer: DatagramPeer, rid?: string): void {
    if (error instanceof WharfError) this.#logger.warn({ peer: addressOf(peer), code: error.code }, error.message);
    else this.#logger.error({ err: error, peer: addressOf(peer) }, 'diary request failed');
    const code = error instanceof WharfError ? error.code : 'EINTERNAL';
    this.#send(peer, { op: 'error', ...(rid ? { rid } : {}), code, message: error instanceof WharfError ? error.message : 'the server failed; try again' });
  }

  // ---- the seed's protocol ----

  #onSeedDatagram(datagram: Buffer, peer: DatagramPeer): void {
    const request = parseSeedDatagram(datagram, this.#config.maxEntryBytes);
    const reply = (text: string) => this.#send(peer, text);
    const failed = (error: unknown) => {
      this.#logger.warn({ peer: addressOf(peer), err: error instanceof Error ? error.message : String(error) }, 'diary: could not serve a seed client');
      reply(SEED_REPLIES.storeFailed);
    };
    switch (request.kind) {
      case 'write':
        this.writer.seed({ diary: PUBLIC_DIARY, text: request.text, account: null, address: addressOf(peer) }).then((ms) => reply(stampedLine(ms, request.text, this.#config.timeZone)), failed);
        return;
      case 'read':
        this.#seedRead().then(reply, failed);
        return;
      case 'clear':
        if (!this.#config.anonymousClear) {
          reply(SEED_REPLIES.clearRefused);
          return;
        }
        this.writer.clear(PUBLIC_DIARY, { account: null, address: addressOf(peer) }).then(() => reply(CLEARED_REPLY), failed);
        return;
      case 'empty':
        reply(SEED_REPLIES.empty);
        return;
      case 'not-utf8':
        reply(SEED_REPLIES.notUtf8);
        return;
      case 'too-long':
        reply(SEED_REPLIES.tooLong(request.bytes, this.#config.maxEntryBytes));
        return;
      default: {
        const unreachable: never = request;
        return unreachable;
      }
    }
  }

  /** The `-r` answer: the newest entries of the public diary that fit in `readReplyBytes`. */
  async #seedRead(): Promise<string> {
    const budget = this.#config.readReplyBytes;
    const newest: StoredEntry[] = [];
    let bytes = 0;
    let beforeId: number | undefined;
    // Fetch newest first until what we have fills the answer (each line is at least 27 bytes longer than its text).
    while (bytes <= budget) {
      const rows = await this.diaryStore.newest(PUBLIC_DIARY, PAGE_ROWS, beforeId);
      for (const row of rows) {
        newest.push(row);
        bytes += Buffer.byteLength(row.text) + 27;
      }
      if (rows.length < PAGE_ROWS) break;
      beforeId = rows.at(-1)!.id;
    }
    const total = Math.max(newest.length, await this.diaryStore.count(PUBLIC_DIARY));
    return formatReadReply(newest, total, budget, this.#config.timeZone).reply;
  }

  // ---- wharf's protocol ----

  async #onWharfMessage(datagram: Buffer, peer: DatagramPeer): Promise<void> {
    let message: ClientMessage;
    try {
      message = decodeClientMessage(datagram, { maxEntryBytes: this.#config.maxEntryBytes, maxEntriesPerWrite: this.#config.maxEntriesPerWrite });
    } catch (error) {
      if (!(error instanceof DiaryProtocolError)) throw error;
      this.#send(peer, { op: 'error', ...(error.rid ? { rid: error.rid } : {}), code: 'EPROTOCOL', message: error.message });
      return;
    }
    if (message.op === 'login') {
      await this.#login(message, peer);
      return;
    }
    const caller = await this.#caller(message.tok, peer);
    if (caller === undefined) {
      const context = message.op === 'write' ? { c: message.c } : { rid: message.rid };
      this.#send(peer, { op: 'error', ...context, code: 'EAUTH', message: 'the session has expired or is unknown: log in again' });
      return;
    }
    const diary = message.d === undefined ? PUBLIC_DIARY : message.d.normalize('NFC');
    switch (message.op) {
      case 'write': {
        const denied = diary === PUBLIC_DIARY || caller.account === diary ? undefined : { code: 'EFORBIDDEN', message: `you may not write to ${describeDiary(diary)}` };
        const entries = message.e.map(([seq, text]): [number, SequencedEntry] => {
          const refused = denied ?? textProblem(text, this.#config.maxEntryBytes);
          return [seq, { diary, text, account: caller.account ?? null, address: caller.address, ...(refused ? { refused } : {}) }];
        });
        this.writer.client(message.c, entries, peer);
        return;
      }
      case 'read': {
        if (!(diary === PUBLIC_DIARY || caller.account === diary || caller.role === 'admin')) {
          this.#send(peer, { op: 'error', rid: message.rid, code: 'EFORBIDDEN', message: `you may not read ${describeDiary(diary)}` });
          return;
        }
        try {
          this.#send(peer, await this.#page(message, diary));
        } catch (error) {
          this.#failed(error, peer, message.rid);
        }
        return;
      }
      case 'clear': {
        const allowed = diary === PUBLIC_DIARY ? caller.role === 'admin' || this.#config.anonymousClear : caller.account === diary || caller.role === 'admin';
        if (!allowed) {
          const why =
            diary === PUBLIC_DIARY
              ? caller.account
                ? 'only an admin may clear the public diary'
                : 'an anonymous client may not clear the public diary (log in as an admin)'
              : `you may not clear ${describeDiary(diary)}`;
          this.#send(peer, { op: 'error', rid: message.rid, code: 'EFORBIDDEN', message: why });
          return;
        }
        // The request id, scoped to who sent it, makes a resent clear a no-op.
        const requestId = createHash('sha256').update(`${caller.account ?? peer.address}\u0000${message.rid}`).digest('hex').slice(0, 32);
        try {
          const { removed } = await this.writer.clear(diary, { account: caller.account ?? null, address: caller.address }, requestId);
          this.#send(peer, { op: 'cleared', rid: message.rid, removed });
        } catch (error) {
          this.#failed(error, peer, message.rid);
        }
        return;
      }
      default: {
        const unreachable: never = message;
        return unreachable;
      }
    }
  }

  async #page(message: Extract<ClientMessage, { op: 'read' }>, diary: string): Promise<ServerMessage> {
    const maxBytes = Math.min(Math.max(message.max ?? 1400, 512), this.#config.maxPageBytes);
    const rows = await this.diaryStore.page(diary, { afterId: message.after ?? 0, limit: PAGE_ROWS, ...(message.since !== undefined ? { sinceMs: message.since } : {}) });
    const entries: PageEntry[] = [];
    let bytes = emptyPageBytes(message.rid);
    for (const row of rows) {
      const by = row.account ?? row.address ?? undefined;
      const entry: PageEntry = { id: row.id, t: row.ms, text: row.text, ...(by ? { by } : {}) };
      const size = pageEntryBytes(entry);
      // A page always carries at least one entry, even one larger than the page size asked for.
      if (entries.length > 0 && bytes + size > maxBytes) break;
      entries.push(entry);
      bytes += size;
    }
    const more = entries.length < rows.length || rows.length === PAGE_ROWS;
    return { op: 'page', rid: message.rid, entries, more, next: entries.at(-1)?.id ?? message.after ?? 0 };
  }

  /** Who a token belongs to; undefined for a token that is unknown or expired. */
  async #caller(token: string | undefined, peer: DatagramPeer): Promise<Caller | undefined> {
    const address = addressOf(peer);
    if (token === undefined) return { account: undefined, role: undefined, address };
    const now = Date.now();
    let session = this.#sessions.get(token);
    if (!session || session.expiresAt <= now || now - session.checkedAt > SESSION_RECHECK_MS) {
      this.#sessions.delete(token);
      const stored = await this.diaryStore.session(token);
      if (!stored) return undefined;
      // The account may have been disabled, deleted or had its role changed since the login.
      const account = await this.#store.accounts.get(stored.account);
      if (!account || account.disabled) return undefined;
      session = { account: account.name, role: account.role, expiresAt: stored.expiresAt, checkedAt: now };
      if (this.#sessions.size >= MAX_CACHED_SESSIONS) this.#sessions.delete(this.#sessions.keys().next().value!);
      this.#sessions.set(token, session);
    }
    return { account: session.account, role: session.role, address };
  }

  async #login(message: Extract<ClientMessage, { op: 'login' }>, peer: DatagramPeer): Promise<void> {
    // A resent LOGIN (its answer was lost) gets the same answer, not a second scrypt and session.
    const key = `${addressOf(peer)}\u0000${message.rid}`;
    let answer = this.#logins.get(key);
    if (!answer && !this.#loginLimiter.take(peer.address)) {
      this.#send(peer, { op: 'error', rid: message.rid, code: 'ETHROTTLED', message: 'too many logins from this address; try again in a few seconds' });
      return;
    }
    if (!answer) {
      answer = this.#verify(message, peer);
      if (this.#logins.size >= MAX_REMEMBERED_LOGINS) this.#logins.delete(this.#logins.keys().next().value!);
      this.#logins.set(key, answer);
      const forget = setTimeout(() => this.#logins.delete(key), 30_000);
      forget.unref();
    }
    try {
      this.#send(peer, await answer);
    } catch (error) {
      this.#logins.delete(key);
      this.#failed(error, peer, message.rid);
    }
  }

  async #verify(message: Extract<ClientMessage, { op: 'login' }>, peer: DatagramPeer): Promise<ServerMessage> {
    const result = await this.#store.accounts.verify(message.user, message.pass, peer.address);
    if (!result.ok) {
      this.#logger.warn({ account: message.user.slice(0, 64), peer: addressOf(peer), reason: result.reason }, loginFailureLine(message.user, peer.address, result));
      if (result.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, result.delayMs));
      const text =
        result.reason === 'disabled'
          ? 'this account is disabled'
          : result.reason === 'throttled'
            ? `too many failed logins; try again in ${Math.ceil((result.retryAfterMs ?? 1000) / 1000)} s`
            : 'wrong account name or password';
      return { op: 'error', rid: message.rid, code: result.reason === 'throttled' ? 'ETHROTTLED' : 'EAUTH', message: text };
    }
    const { token, expiresAt } = await this.diaryStore.createSession(result.account.name, this.#config.sessionTtlMs, this.#config.maxSessionsPerAccount);
    this.#sessions.set(token, { account: result.account.name, role: result.account.role, expiresAt, checkedAt: Date.now() });
    this.#logger.info({ account: result.account.name, peer: addressOf(peer) }, 'diary login');
    return { op: 'login', rid: message.rid, tok: token, user: result.account.name, role: result.account.role, exp: expiresAt };
  }
}

export async function startDiary(ctx: ServiceContext, config: DiaryConfig): Promise<RunningService> {
  return DiaryServer.start({ store: requireStore(ctx, 'diary'), config, logger: ctx.logger, metrics: ctx.metrics, ownUdpPorts: hostUdpPorts(ctx), ...(ctx.portal ? { portal: ctx.portal } : {}) });
}

export const diaryService: ServiceDefinition<DiaryConfig> = {
  name: 'diary',
  summary: "the seed's UDP network diary (port 8888), every entry stored once and durably, with accounts' own diaries",
  configSchema: diaryConfigSchema,
  uses: ['store'],
  start: startDiary,
};
