import { z } from 'zod';
import { isClusterWorker } from '../../core/cluster.js';
import { listenSchema, portSchema, streamLimitsSchema } from '../../core/config.js';
import { WharfError } from '../../core/errors.js';
import type { ClientCommand, ConsoleCommand, ListeningAddress, RunningService, ServiceContext, ServiceDefinition, ServiceStatus } from '../../core/service.js';
import { streamLimits } from '../../core/tcp-server.js';
import { hostUdpPorts } from '../../core/udp-guard.js';
import { storeOf } from '../../store/service-store.js';
import { noAccounts, storeAccounts, type ChatAccounts } from './accounts.js';
import { MemoryHistory, SqlHistory, type HistoryStore } from './history.js';
import { ADMIN_NAME, DEFAULT_MAX_CLIENT_FRAME_BYTES, DEFAULT_ROOM, roomProblem, textProblem } from './protocol.js';
import { RedisRoomBus, presenceBoundMs } from './redis-bus.js';
import { InProcessRoomBus, type RoomBus } from './room.js';
import { chatPortalSection } from './portal/section.js';
import { WebFrontEnd, type WebStats } from './portal/web-front-end.js';
import { TcpFrontEnd, type TcpStats } from './tcp-front-end.js';
import { UdpFrontEnd, type UdpStats } from './udp-front-end.js';

export const chatConfigSchema = z
  .object({
    ...listenSchema,
    /** UDP port of the seed protocol (the seed's 8000). */
    port: portSchema.default(8000),
    /** TCP port of wharf's own protocol (TCP 8000 is the web service's). */
    tcpPort: portSchema.default(8001),
    udp: z.boolean().default(true),
    tcp: z.boolean().default(true),
    /** The room seed clients are in, and wharf clients join unless they name another. */
    room: z.string().refine((room) => roomProblem(room) === undefined, { message: 'not a valid room name' }).default(DEFAULT_ROOM),
    /**
     * The server console's `say` (and each typed line that is no command) sends to every room:
     * `off` leaves the console without them. Whether the console is read is the host's choice
     * (`--console`, `--no-console`); `on` and `auto` are the same.
     */
    console: z.enum(['auto', 'on', 'off']).default('auto'),
    /** `store`: history in the database (survives a restart); `memory`: in this process only. */
    history: z.enum(['store', 'memory']).default('store'),
    /** Messages a wharf client is shown when it joins a room. */
    historyOnJoin: z.number().int().min(0).max(1_000).default(20),
    /** Most messages sent to a reconnecting client to catch up (the newest; older ones are reported missing). */
    maxCatchUp: z.number().int().min(0).max(100_000).default(1_000),
    /** Most messages one `/history` returns. */
    historyLimit: z.number().int().min(1).max(1_000).default(200),
    /** With Redis (`--redis`): every key and channel starts with this, so deployments can share one Redis. */
    redisKeyPrefix: z.string().min(1).max(100).default('wharf:chat:'),
    /**
     * With Redis: a node renews its lease every third of this; a node that stops renewing (killed,
     * cut off) loses its members, and the rooms are told, within 4/3 of this.
     */
    nodeLeaseMs: z.number().int().min(300).max(10 * 60_000).default(9_000),
    /** Messages per room kept in memory (or in the Redis stream) for joins and catch-ups. */
    recentPerRoom: z.number().int().min(0).max(1_000_000).default(1_000),
    /** Members at once, UDP and TCP together. */
    maxMembers: z.number().int().positive().default(10_000),
    /** Seed (UDP) members from one IP address at once. */
    maxMembersPerIp: z.number().int().positive().default(1_000),
    /** Rooms with members at once. */
    maxRooms: z.number().int().positive().default(1_000),
    /** Longest message, in bytes of UTF-8. */
    maxTextBytes: z.number().int().positive().max(60_000).default(4_096),
    /** Longer datagrams are dropped. */
    maxDatagramBytes: z.number().int().positive().max(65_507).default(8_192),
    /** Longest frame a wharf client may send. */
    maxFrameBytes: z.number().int().positive().default(DEFAULT_MAX_CLIENT_FRAME_BYTES),
    /** Messages a second per UDP address or TCP connection (login, chat, exit all count over UDP). */
    ratePerSecond: z.number().positive().default(20),
    /** Messages allowed at once above the rate. */
    rateBurst: z.number().int().positive().default(40),
    /** A seed member that sends nothing for this long is dropped and the room told (0: never). */
    memberIdleMs: z.number().int().min(0).default(30 * 60_000),
    /** SO_RCVBUF / SO_SNDBUF of the UDP socket: a big receive buffer rides out bursts. */
    receiveBufferBytes: z.number().int().positive().default(4 * 1024 * 1024),
    sendBufferBytes: z.number().int().positive().default(4 * 1024 * 1024),
    /**
     * How the fan-out sends datagrams: `worker` (a worker thread whose sends leave 20 per system
     * call), `inline` (one call per datagram, on the main thread), `auto` (worker when this Node
     * allows it).
     */
    udpSend: z.enum(['auto', 'worker', 'inline']).default('auto'),
    /** Datagrams waiting to be sent before more are dropped (UDP may drop them anyway). */
    maxSendQueue: z.number().int().positive().default(50_000),
    ...streamLimitsSchema,
    /** A wharf client owing more than this (bytes sent to it and not yet taken) is behind. */
    writeHighWaterBytes: z.number().int().positive().default(256 * 1024),
    /** A wharf client owing more than this is not reading: it is disconnected. */
    maxWriteQueueBytes: z.number().int().positive().default(1024 * 1024),
    /** A wharf client behind for this long is not reading: it is disconnected. */
    slowReaderMs: z.number().int().positive().default(10_000),
    /**
     * The chat page of the browser portal (issue #19), over WebSocket on the web service, when the
     * host runs one (`wharf serve`): signed-in accounts chat in the same rooms.
     */
    portal: z.boolean().default(true),
    /** The portal's WebSocket is pinged this often; one that misses a ping is dropped (dead). */
    webPingMs: z.number().int().min(100).max(10 * 60_000).default(30_000),
    /**
     * A portal member whose connection dropped keeps its name this long, so that the page coming
     * back (it reconnects by itself) takes it over without the room seeing a leave and a join.
     */
    webReconnectGraceMs: z.number().int().min(0).max(10 * 60_000).default(10_000),
  })
  .strict()
  .refine((c) => c.tcp || c.udp, { message: 'at least one of tcp and udp must be on', path: ['tcp'] });

export type ChatConfig = z.infer<typeof chatConfigSchema>;

export interface ChatStats {
  /** How the seed room's datagrams are sent: batched from a worker thread, or one call each. */
  udpSendMode: 'worker' | 'inline' | undefined;
  udp: UdpStats | undefined;
  tcp: TcpStats | undefined;
  /** The browser portal's members (WebSocket), when the host has a portal. */
  web: WebStats | undefined;
  historyWriteFailures: number;
}

/** The running chat: the usual handle, plus the room and its counters for tests and embedders. */
export interface RunningChat extends RunningService {
  readonly bus: RoomBus;
  readonly stats: ChatStats;
  /** Members here now, seed and wharf clients together. */
  memberCount(): number;
  /** Send `text` to every room as `管理员消息` (what a line typed on the console does). */
  announce(text: string): Promise<void>;
}

export interface ChatStartOptions {
  /** The room state; default: a new InProcessRoomBus over the store's history. */
  bus?: RoomBus;
  accounts?: ChatAccounts;
}

/** Start the chat with explicit parts (tests, embedders); the service definition calls this. */
export async function startChat(ctx: ServiceContext, config: ChatConfig, options: ChatStartOptions = {}): Promise<RunningChat> {
  const redisUrl = typeof ctx.resources.redis === 'string' && ctx.resources.redis !== '' ? ctx.resources.redis : undefined;
  refuseUnsharedWorkers(config, redisUrl, options);
  const logger = ctx.logger;
  const store = storeOf(ctx);
  const accounts = options.accounts ?? (store ? storeAccounts(store) : noAccounts);
  const ownBus = options.bus === undefined;
  const { bus, historyWriteFailures } = options.bus ? { bus: options.bus, historyWriteFailures: () => 0 } : await openRoomBus(ctx, config, redisUrl);
  let frontEnds: FrontEnds;
  try {
    frontEnds = await startFrontEnds(ctx, config, bus, accounts);
  } catch (error) {
    if (ownBus) await bus.close();
    throw error;
  }
  const { udp, tcp } = frontEnds;
  const web = ctx.portal !== undefined && config.portal ? startWebFrontEnd(ctx, config, bus) : undefined;

  const announce = async (text: string): Promise<void> => {
    const problem = textProblem(text, config.maxTextBytes);
    if (problem) throw new WharfError('EBADVALUE', problem);
    const rooms = new Set(await bus.rooms());
    rooms.add(config.room);
    for (const room of rooms) await bus.publish(room, { kind: 'admin', from: ADMIN_NAME, text });
  };

  const addresses: ListeningAddress[] = [...(udp?.addresses ?? []), ...(tcp?.addresses ?? [])];
  const stats: ChatStats = {
    udpSendMode: udp?.sendMode,
    udp: udp?.stats,
    tcp: tcp?.stats,
    web: web?.front.stats,
    get historyWriteFailures() {
      return historyWriteFailures();
    },
  };
  let stopped: Promise<void> | undefined;
  return {
    name: 'chat',
    addresses,
    bus,
    stats,
    memberCount: () => (udp?.memberCount ?? 0) + (tcp?.memberCount ?? 0) + (web?.front.memberCount ?? 0),
    announce,
    consoleCommands: config.console === 'off' ? [] : [sayCommand(announce)],
    status: () => memberStatus(bus),
    clientCommands: () => chatClientCommands(udp?.addresses[0], tcp?.addresses[0]),
    stop(deadlineMs) {
      stopped ??= (async () => {
        web?.withdraw();
        await Promise.all([udp?.stop(), tcp?.stop(deadlineMs), web?.front.stop()]);
        if (ownBus) await bus.close();
        logger.debug({ udp: udp?.stats, tcp: tcp?.stats, web: web?.front.stats, udpSendMode: udp?.sendMode, historyWriteFailures: historyWriteFailures() }, 'chat counters in full');
      })();
      return stopped;
    },
  };
}

/** Under --workers the room must be shared (Redis), and the UDP port shareable (a socket on the main thread). */
function refuseUnsharedWorkers(config: ChatConfig, redisUrl: string | undefined, options: ChatStartOptions): void {
  if (!isClusterWorker()) return;
  if (redisUrl === undefined && options.bus === undefined) {
    // The primary could relay the room between its workers, but it would then carry every message
    // of every worker (its one core the ceiling) and be a second room to keep right; Redis does
    // this job for workers and machines alike.
    throw new WharfError('ECLUSTER', 'the chat room lives in one process unless it is shared through Redis: add --redis redis://127.0.0.1:6379 (or WHARF_REDIS) to use --workers (docs/scaling.md), or run without --workers');
  }
  if (config.udp && config.udpSend === 'worker') {
    throw new WharfError('ECLUSTER', 'chat.udpSend worker cannot share the UDP port between --workers (a worker thread binds a socket of its own): use auto or inline');
  }
}

/** The room: shared through Redis when a URL is given, else in this process over the history store. */
async function openRoomBus(ctx: ServiceContext, config: ChatConfig, redisUrl: string | undefined): Promise<{ bus: RoomBus; historyWriteFailures: () => number }> {
  const logger = ctx.logger;
  const store = storeOf(ctx);
  const history: HistoryStore = config.history === 'store' && store ? new SqlHistory(store, logger) : new MemoryHistory({ maxPerRoom: Math.max(config.recentPerRoom, 10_000) });
  const limits = { history, logger, maxMembers: config.maxMembers, maxRooms: config.maxRooms, recentPerRoom: config.recentPerRoom };
  if (redisUrl !== undefined) {
    const redis = await RedisRoomBus.connect({ ...limits, url: redisUrl, keyPrefix: config.redisKeyPrefix, leaseMs: config.nodeLeaseMs });
    logger.info({ node: redis.node, keyPrefix: config.redisKeyPrefix, presenceBoundMs: presenceBoundMs(redis.leaseMs) }, `chat rooms shared through Redis (this node: ${redis.node}); a node that dies loses its members within ${presenceBoundMs(redis.leaseMs) / 1000} s`);
    return { bus: redis, historyWriteFailures: () => redis.historyWriteFailures };
  }
  const inProcess = new InProcessRoomBus(limits);
  await inProcess.open(config.room);
  return { bus: inProcess, historyWriteFailures: () => inProcess.historyWriteFailures };
}

interface FrontEnds {
  udp: UdpFrontEnd | undefined;
  tcp: TcpFrontEnd | undefined;
}

/** The seed protocol on UDP and wharf's on TCP, over one room; if one cannot start, neither runs. */
async function startFrontEnds(ctx: ServiceContext, config: ChatConfig, bus: RoomBus, accounts: ChatAccounts): Promise<FrontEnds> {
  const { logger, metrics } = ctx;
  let udp: UdpFrontEnd | undefined;
  let tcp: TcpFrontEnd | undefined;
  try {
    if (config.udp) {
      udp = await UdpFrontEnd.start({
        bus,
        accounts,
        room: config.room,
        host: config.host,
        port: config.port,
        maxDatagramBytes: config.maxDatagramBytes,
        maxTextBytes: config.maxTextBytes,
        ratePerSecond: config.ratePerSecond,
        rateBurst: config.rateBurst,
        maxMembersPerIp: config.maxMembersPerIp,
        memberIdleMs: config.memberIdleMs,
        receiveBufferBytes: config.receiveBufferBytes,
        sendBufferBytes: config.sendBufferBytes,
        // Under --workers the workers share one UDP socket through the cluster primary, which only a
        // socket bound on the main thread can do: one send per datagram there.
        sendMode: isClusterWorker() ? 'inline' : config.udpSend,
        maxSendQueue: config.maxSendQueue,
        logger,
        metrics,
        ownUdpPorts: hostUdpPorts(ctx),
        sharedSocket: isClusterWorker(),
      });
    }
    if (config.tcp) {
      tcp = await TcpFrontEnd.start({
        bus,
        accounts,
        ...roomMemberLimits(config),
        ...streamLimits(config),
        port: config.tcpPort,
        maxFrameBytes: config.maxFrameBytes,
        logger,
        metrics,
      });
    }
  } catch (error) {
    await udp?.stop();
    await tcp?.stop(0);
    throw error;
  }
  return { udp, tcp };
}

/** What a member of the room gets, whichever front end holds it (TCP, WebSocket): one mapping from the config. */
function roomMemberLimits(config: ChatConfig) {
  return {
    defaultRoom: config.room,
    maxTextBytes: config.maxTextBytes,
    historyOnJoin: config.historyOnJoin,
    maxCatchUp: config.maxCatchUp,
    historyLimit: config.historyLimit,
    ratePerSecond: config.ratePerSecond,
    rateBurst: config.rateBurst,
    slowReaderMs: config.slowReaderMs,
  };
}

/** The portal's chat page: a WebSocket front end over the same bus, and its section in the portal. */
function startWebFrontEnd(ctx: ServiceContext, config: ChatConfig, bus: RoomBus): { front: WebFrontEnd; withdraw: () => void } {
  // A page's message is a few fields around one text of at most maxTextBytes; JSON may escape
  // a character as 6 bytes (`\u2028`), so the socket takes up to the TCP frame limit.
  const maxMessageBytes = Math.max(config.maxFrameBytes, 2 * config.maxTextBytes + 1024);
  const front = new WebFrontEnd({
    bus,
    ...roomMemberLimits(config),
    maxMessageBytes,
    writeHighWaterBytes: config.writeHighWaterBytes,
    maxWriteQueueBytes: config.maxWriteQueueBytes,
    pingIntervalMs: config.webPingMs,
    reconnectGraceMs: config.webReconnectGraceMs,
    logger: ctx.logger,
    metrics: ctx.metrics,
  });
  const withdraw = ctx.portal!.add(chatPortalSection(front, { maxMessageBytes }));
  return { front, withdraw };
}

/** Where a reader connects: a wildcard listen address is reached as loopback from this machine. */
function reachable(address: ListeningAddress): string {
  const host = address.address === '0.0.0.0' || address.address === '::' ? '127.0.0.1' : address.address;
  return host.includes(':') ? `[${host}]` : host;
}

/** The standard clients' command lines for the portal's home (NAME: the reader's account). */
export function chatClientCommands(udp: ListeningAddress | undefined, tcp: ListeningAddress | undefined): ClientCommand[] {
  const commands: ClientCommand[] = [];
  if (tcp) commands.push({ summary: 'join the room from a terminal with your account', command: `wharf chat -H ${reachable(tcp)} -p ${tcp.port} --name NAME --login` });
  if (udp) {
    commands.push({ summary: "join with the seed's protocol (any free name)", command: `wharf chat --seed-protocol -H ${reachable(udp)} -p ${udp.port} --name NAME` });
    commands.push({ summary: "the seed's client", command: `python3 chat_client.py ${reachable(udp)} ${udp.port}` });
    commands.push({ summary: 'by hand: type L NAME, then C NAME text, then E NAME', command: `nc -u ${reachable(udp)} ${udp.port}` });
  }
  return commands;
}

/** The console's `say TEXT`, which also takes every typed line that is no command (the seed's console). */
function sayCommand(announce: (text: string) => Promise<void>): ConsoleCommand {
  return {
    name: 'say',
    usage: 'say TEXT',
    summary: 'send TEXT to every chat room as 管理员消息',
    takesOtherLines: true,
    async run(text) {
      await announce(text);
      return 'sent to every chat room';
    },
  };
}

/** Names `wharf status` lists at most; the count is always whole. */
const STATUS_MEMBER_NAMES = 100;

async function memberStatus(bus: RoomBus): Promise<ServiceStatus> {
  let count = 0;
  const names: string[] = [];
  for (const room of await bus.rooms()) {
    const members = await bus.members(room);
    count += members.length;
    for (const member of members) if (names.length < STATUS_MEMBER_NAMES) names.push(member.name);
  }
  return { members: { count, names } };
}

export const chatService: ServiceDefinition<ChatConfig> = {
  name: 'chat',
  summary: "chat room: the seed's UDP protocol (port 8000) and wharf's own over TCP (8001), one room for both",
  configSchema: chatConfigSchema,
  uses: ['store'],
  start: (ctx, config) => startChat(ctx, config),
};
