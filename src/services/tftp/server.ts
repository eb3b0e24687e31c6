import { setMaxListeners } from 'node:events';
import { mkdir, realpath } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { DEFAULT_BUSY_POLL_MICROS } from '../../core/busy-poll.js';
import { listenSchema, portSchema, sizeSchema } from '../../core/config.js';
import { ConnectionLimiter } from '../../core/connection-limiter.js';
import { untilDeadline } from '../../core/deadline.js';
import { formatBytes } from '../../core/human-size.js';
import type { Logger } from '../../core/logger.js';
import type { ServiceMetrics } from '../../core/metrics.js';
import { RateLimiter } from '../../core/rate-limiter.js';
import type { ClientCommand, ListeningAddress, RunningService, ServiceContext, ServiceDefinition, ServiceStatus } from '../../core/service.js';
import { hostUdpPorts } from '../../core/udp-guard.js';
import { DatagramServer, type DatagramPeer } from '../../core/udp-server.js';
import { FileBytesCache } from './file-bytes-cache.js';
import { FileBlockSink, FileBlockSource, NetasciiBlockSource, type BlockSource } from './files.js';
import { TftpRefusal, openForRead, resolveWriteTarget } from './paths.js';
import {
  MAX_BLOCK_SIZE,
  Opcode,
  TftpErrorCode,
  TftpPacketError,
  formatAck,
  formatError,
  formatOack,
  negotiateOptions,
  opcodeOf,
  parsePacket,
  transferModeOf,
  type RequestPacket,
  type TransferParameters,
} from './protocol.js';
import { ReceiveTransfer, SendTransfer, TftpTransferError, type TransferTiming } from './transfer.js';
import { TransferPorts, type TransferSockets } from './transfer-sockets.js';

export const tftpConfigSchema = z
  .object({
    ...listenSchema,
    port: portSchema.default(6969),
    /** The folder served; default `<data>/files/tftp` (created). */
    root: z.string().min(1).optional(),
    /** Accept uploads (WRQ). Off by default: a TFTP server has no passwords. */
    allowWrite: z.boolean().default(false),
    /** Let an upload replace an existing file; otherwise only new files are created. */
    allowOverwrite: z.boolean().default(false),
    /** Largest upload, in bytes (or `500M`, `1G`). */
    maxUploadBytes: sizeSchema.default(256 * 1024 * 1024),
    /** Transfers at once; further requests get an error and may retry. */
    maxTransfers: z.number().int().positive().default(256),
    /** Transfers at once from one address; 0: no per-address limit. */
    maxTransfersPerIp: z.number().int().min(0).default(64),
    /** Largest blksize granted (RFC 2348: 8–65464). */
    maxBlockSize: z.number().int().min(8).max(MAX_BLOCK_SIZE).default(MAX_BLOCK_SIZE),
    /** Largest windowsize granted (RFC 7440). */
    maxWindowSize: z.number().int().min(1).max(65535).default(64),
    /** First retransmission interval (a client's `timeout` option overrides it), then doubling. */
    timeoutMs: z.number().int().positive().default(1_000),
    /** The doubling stops here. */
    maxTimeoutMs: z.number().int().positive().default(8_000),
    /** Timeouts in a row before a transfer is dropped. */
    retries: z.number().int().min(0).max(100).default(5),
    /**
     * Microseconds to keep the event loop awake after each send for the client's answer, while
     * the client answers that fast (a client on the same host); 0 turns it off. Lockstep speed on
     * loopback is mostly the cost of waking up; see core/busy-poll.ts and docs/tftp.md.
     */
    busyPollMicros: z.number().int().min(0).max(10_000).default(DEFAULT_BUSY_POLL_MICROS),
    /**
     * Memory for files kept after a download, so that the next downloads of them are sent from
     * memory (files up to half of it; octet mode). 0 turns it off.
     */
    fileCacheBytes: sizeSchema.default(128 * 1024 * 1024),
    /** Socket buffers of a transfer whose window needs more than the kernel default. */
    socketBufferBytes: z.number().int().positive().default(4 * 1024 * 1024),
  })
  .strict();

export type TftpConfig = z.infer<typeof tftpConfigSchema>;

/** The running TFTP service, with what tests and embedders want to see. */
export interface TftpRunningService extends RunningService {
  /** The folder served (its realpath). */
  readonly root: string;
  /** Transfers in progress (including uploads waiting to re-acknowledge their last block). */
  readonly activeTransfers: number;
  /** Files held in memory for downloads (`fileCacheBytes`), and downloads sent from them. */
  readonly fileCache: { files: number; bytes: number; hits: number };
}
interface ActiveTransfer {
  /** The client's address and port, for logs. */
  key: string;
  address: string;
  /** Settles when the transfer is over and its socket is closed. */
  finished?: Promise<void>;
  abort?: (reason: string) => void;
}

/**
 * A request's source may be forged: until the client answers, its transfer's first packet goes
 * out at most this often (the first send and two retransmissions, 1 + 2 s apart with the default
 * timing), then the transfer is dropped silently. A real client answers the first one it gets.
 */
const MAX_SENDS_UNANSWERED = 3;

type TftpServerContext = Pick<ServiceContext, 'logger' | 'metrics' | 'dataDir' | 'services'>;

/** Start a TFTP server; the function behind `tftpService.start`, usable on its own. */
export function startTftp(ctx: TftpServerContext, config: TftpConfig): Promise<TftpRunningService> {
  return TftpServer.start(ctx, config);
}

/**
 * The TFTP server. The main socket takes requests (RRQ, WRQ) and answers what is not one at most
 * once per rate; each accepted request becomes a transfer on a port of its own (transfer.ts runs
 * it, transfer-sockets.ts opens it), counted against the caps until it is over.
 */
export class TftpServer implements TftpRunningService {
  readonly name = 'tftp';
  readonly root: string;
  readonly #config: TftpConfig;
  readonly #logger: Logger;
  readonly #metrics: ServiceMetrics;
  #main!: DatagramServer;
  /** In progress, by client address, port and request: a request resent is not a new transfer. */
  readonly #transfers = new Map<string, ActiveTransfer>();
  readonly #caps: ConnectionLimiter;
  readonly #ports: TransferPorts;
  /** Error answers, per address: a forged source cannot make this server a reflector. */
  readonly #replies = new RateLimiter({ ratePerSecond: 200, burst: 400, maxKeys: 10_000 });
  readonly #allowStrayReply = (address: string): boolean => this.#replies.take(address);
  readonly #stopping = new AbortController();
  readonly #fileCache: FileBytesCache | undefined;
  readonly #limits: { maxBlockSize: number; maxWindowSize: number; maxUploadBytes: number };
  #closed = false;

  private constructor(ctx: TftpServerContext, config: TftpConfig, root: string) {
    this.#config = config;
    this.#logger = ctx.logger;
    this.#metrics = ctx.metrics;
    this.root = root;
    this.#caps = new ConnectionLimiter({ maxTotal: config.maxTransfers, maxPerIp: config.maxTransfersPerIp });
    this.#ports = new TransferPorts(config.host, config.socketBufferBytes, ctx.logger);
    // Every transfer listens for the stop: as many listeners as transfers, by design.
    setMaxListeners(0, this.#stopping.signal);
    this.#fileCache = config.fileCacheBytes > 0 ? new FileBytesCache(config.fileCacheBytes) : undefined;
    this.#limits = { maxBlockSize: config.maxBlockSize, maxWindowSize: config.maxWindowSize, maxUploadBytes: config.maxUploadBytes };
  }

  static async start(ctx: TftpServerContext, config: TftpConfig): Promise<TftpServer> {
    const rootPath = resolve(config.root ?? join(ctx.dataDir, 'files', 'tftp'));
    await mkdir(rootPath, { recursive: true });
    const server = new TftpServer(ctx, config, await realpath(rootPath));
    server.#main = await DatagramServer.bind({
      host: config.host,
      port: config.port,
      // A burst of requests (a lab of PXE clients booting at once) must not overflow the queue.
      receiveBufferBytes: config.socketBufferBytes,
      logger: ctx.logger,
      metrics: ctx.metrics,
      // A request forged from another responder's port would aim a whole transfer at it.
      guard: { ownPorts: hostUdpPorts(ctx) },
      onMessage: (message, peer) => server.#onMessage(message, peer),
    });
    return server;
  }

  get addresses(): ListeningAddress[] {
    return this.#main.addresses;
  }

  get fileCache(): { files: number; bytes: number; hits: number } {
    return this.#fileCache?.stats ?? { files: 0, bytes: 0, hits: 0 };
  }

  get activeTransfers(): number {
    return this.#transfers.size;
  }

  async status(): Promise<ServiceStatus> {
    return { transfers: this.#transfers.size };
  }

  /** tftp-hpa and curl, the standard clients (the portal's home page lists these). */
  clientCommands(): ClientCommand[] {
    const address = this.addresses[0];
    if (address === undefined) return [];
    const host = address.address.includes(':') ? `[${address.address}]` : address.address;
    const commands: ClientCommand[] = [
      { summary: 'download FILE with tftp-hpa', command: `tftp ${address.address} ${address.port} -c get FILE` },
      { summary: 'download FILE with curl', command: `curl -o FILE tftp://${host}:${address.port}/FILE` },
    ];
    if (this.#config.allowWrite) commands.push({ summary: 'upload FILE with curl', command: `curl -T FILE tftp://${host}:${address.port}/` });
    return commands;
  }

  /** Stop taking requests, let transfers finish up to `deadlineMs`, then abort the rest. */
  async stop(deadlineMs = 5_000): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#main.stop();
    const all = () => Promise.allSettled([...this.#transfers.values()].map((t) => t.finished));
    if (this.#transfers.size > 0) await untilDeadline(all(), deadlineMs);
    this.#stopping.abort();
    for (const transfer of this.#transfers.values()) transfer.abort?.('the server is shutting down');
    await all();
  }

  /** A datagram on the main port: a request starts a transfer; anything else gets at most an error. */
  #onMessage(message: Buffer, peer: DatagramPeer): void {
    const opcode = opcodeOf(message);
    if (opcode !== Opcode.RRQ && opcode !== Opcode.WRQ) {
      // Never answer an ERROR (two servers could bounce errors forever); answer the rest once.
      if (opcode === Opcode.ERROR || !this.#replies.take(peer.address)) return;
      this.#metrics.errors++;
      if (opcode === Opcode.DATA || opcode === Opcode.ACK || opcode === Opcode.OACK) {
        this.#refuse(peer, TftpErrorCode.UNKNOWN_TID, 'unknown transfer ID');
      } else {
        this.#refuse(peer, TftpErrorCode.ILLEGAL_OPERATION, message.length < 2 ? 'illegal TFTP operation: truncated packet' : `illegal TFTP operation: unknown opcode ${opcode}`);
      }
      return;
    }
    let request: RequestPacket;
    try {
      request = parsePacket(message) as RequestPacket;
    } catch (error) {
      this.#metrics.errors++;
      if (error instanceof TftpPacketError && this.#replies.take(peer.address)) this.#refuse(peer, TftpErrorCode.ILLEGAL_OPERATION, `illegal TFTP operation: ${error.message}`);
      return;
    }
    this.#accept(request, message, peer);
  }

  #refuse(peer: DatagramPeer, code: number, message: string): void {
    this.#main.reply(peer, formatError(code, message));
  }

  /** Take a request within the caps, run its transfer, and free its slot when it is over. */
  #accept(request: RequestPacket, raw: Buffer, peer: DatagramPeer): void {
    const key = `${peer.address}:${peer.port}`;
    // The same request again from the same port: the client has not heard our first packet yet,
    // and the transfer resends it by itself. (Another request from that port is a new transfer.)
    const id = `${key} ${raw.toString('latin1')}`;
    if (this.#transfers.has(id) || this.#closed) return;
    // Reserve the slot now, before anything asynchronous, so the caps hold under a flood.
    const refused = this.#caps.admit(peer.address);
    if (refused !== undefined) {
      this.#metrics.connectionsRefused++;
      const whose = refused === 'ip-full' ? 'too many transfers from your address' : 'too many transfers';
      this.#refuse(peer, TftpErrorCode.NOT_DEFINED, `server busy: ${whose}, try again later`);
      return;
    }
    const active: ActiveTransfer = { key, address: peer.address };
    this.#transfers.set(id, active);
    this.#metrics.connectionsOpen++;
    this.#metrics.connectionsTotal++;
    active.finished = this.#run(request, peer, active)
      .catch((error: unknown) => this.#failed(error, request, peer, key))
      .finally(() => {
        this.#transfers.delete(id);
        this.#caps.release(peer.address);
        this.#metrics.connectionsOpen--;
      });
  }

  /** A transfer that ended with an error: logged as what it was, and the client told when it is still owed an answer. */
  #failed(error: unknown, request: RequestPacket, peer: DatagramPeer, key: string): void {
    this.#metrics.errors++;
    if (error instanceof TftpRefusal) {
      this.#logger.info({ peer: key, file: request.filename, code: error.tftpCode }, `${transferName(key, request)} refused: ${error.message}`);
      this.#refuse(peer, error.tftpCode, error.message);
    } else if (error instanceof TftpTransferError) {
      this.#logger.info({ peer: key, file: request.filename, code: error.code }, `${transferName(key, request)} aborted: ${error.message}`);
    } else {
      this.#logger.error({ err: error, peer: key, file: request.filename }, `${transferName(key, request)} failed`);
      this.#refuse(peer, TftpErrorCode.NOT_DEFINED, 'internal server error');
    }
  }

  #timingFor(parameters: TransferParameters): TransferTiming {
    const timeoutMs = parameters.timeoutSeconds !== undefined ? parameters.timeoutSeconds * 1000 : this.#config.timeoutMs;
    return { timeoutMs, maxTimeoutMs: Math.max(timeoutMs, this.#config.maxTimeoutMs), retries: this.#config.retries };
  }

  async #run(request: RequestPacket, peer: DatagramPeer, active: ActiveTransfer): Promise<void> {
    const mode = transferModeOf(request.mode);
    if (mode === undefined) {
      throw new TftpRefusal(TftpErrorCode.ILLEGAL_OPERATION, `illegal TFTP operation: unsupported mode ${JSON.stringify(request.mode)} (use octet or netascii)`);
    }
    if (request.type === 'RRQ') await this.#sendFile(request, mode === 'netascii', peer, active);
    else await this.#receiveFile(request, mode === 'netascii', peer, active);
  }

  /** The transfer's sockets; none once the server is stopping. */
  async #openTransfer(windowBytes: number, peer: DatagramPeer): Promise<TransferSockets> {
    const sockets = await this.#ports.open(windowBytes, peer);
    if (this.#stopping.signal.aborted) {
      await this.#ports.close(sockets);
      throw new TftpTransferError('the server is shutting down', { code: 'EABORTED' });
    }
    return sockets;
  }

  /** RRQ: send a file (from the cache when it is there), then log what went. */
  async #sendFile(request: RequestPacket, netascii: boolean, peer: DatagramPeer, active: ActiveTransfer): Promise<void> {
    const file = await openForRead(this.root, request.filename);
    let source: BlockSource | undefined;
    let caching: Promise<void> | undefined;
    let sockets: TransferSockets | undefined;
    try {
      // tsize: not for netascii (its size on the wire is not the file's), and not 0: curl (7.88)
      // fails on "tsize 0" in an OACK, and leaving the option out costs the client nothing.
      const negotiation = negotiateOptions('RRQ', request.options, this.#limits, netascii || file.size === 0 ? undefined : file.size);
      if (!negotiation.ok) throw new TftpRefusal(negotiation.code, negotiation.message);
      const { parameters, oack } = negotiation;
      const cached = netascii ? undefined : this.#fileCache?.get(file.info);
      if (netascii) source = new NetasciiBlockSource(parameters.blockSize, file.handle);
      else if (cached) source = new FileBlockSource(parameters.blockSize, { data: cached });
      else {
        source = new FileBlockSource(parameters.blockSize, file);
        caching = this.#fileCache?.fill(file.handle, file.info);
      }
      sockets = await this.#openTransfer(parameters.blockSize * parameters.windowSize, peer);
      const engine = new SendTransfer({
        socket: sockets.data,
        connected: sockets.connected,
        straySocket: sockets.strays,
        peer,
        peerRole: 'client',
        timing: this.#timingFor(parameters),
        source,
        windowSize: parameters.windowSize,
        oack: oack.length > 0 ? formatOack(oack) : undefined,
        maxSendsUnanswered: MAX_SENDS_UNANSWERED,
        allowStrayReply: this.#allowStrayReply,
        busyPollMicros: this.#config.busyPollMicros,
        signal: this.#stopping.signal,
        onProgress: undefined,
      });
      active.abort = (reason) => engine.abort(reason);
      this.#logger.debug({ peer: active.key, file: request.filename, blksize: parameters.blockSize, windowsize: parameters.windowSize, netascii }, 'RRQ');
      const result = await engine.start();
      this.#metrics.bytesOut += result.bytes;
      this.#logger.info(
        { peer: active.key, file: request.filename, bytes: result.bytes, ms: Math.round(result.durationMs), blksize: parameters.blockSize, windowsize: parameters.windowSize, retransmits: result.retransmits },
        `${transferName(active.key, request)} complete: ${formatBytes(result.bytes)} in ${Math.round(result.durationMs)} ms${result.retransmits > 0 ? `, ${result.retransmits} retransmitted` : ''}`,
      );
    } finally {
      await caching; // it reads through the same handle
      await source?.close();
      await file.handle.close().catch(() => {}); // a source from memory does not own the handle
      if (sockets) await this.#ports.close(sockets);
    }
  }

  /** WRQ: receive a file into a temporary one that replaces the target only when complete. */
  async #receiveFile(request: RequestPacket, netascii: boolean, peer: DatagramPeer, active: ActiveTransfer): Promise<void> {
    const config = this.#config;
    if (!config.allowWrite) throw new TftpRefusal(TftpErrorCode.ACCESS_VIOLATION, 'access violation: this server does not accept uploads');
    const target = await resolveWriteTarget(this.root, request.filename, config.allowOverwrite);
    const negotiation = negotiateOptions('WRQ', request.options, this.#limits);
    if (!negotiation.ok) throw new TftpRefusal(negotiation.code, negotiation.message);
    const { parameters, oack } = negotiation;
    const sink = await FileBlockSink.create({ path: target.path, netascii, overwrite: config.allowOverwrite, root: target.root });
    let sockets: TransferSockets;
    try {
      sockets = await this.#openTransfer(parameters.blockSize * parameters.windowSize, peer);
    } catch (error) {
      await sink.abort();
      throw error;
    }
    try {
      const timing = this.#timingFor(parameters);
      const engine = new ReceiveTransfer({
        socket: sockets.data,
        connected: sockets.connected,
        straySocket: sockets.strays,
        peer,
        peerRole: 'client',
        timing,
        sink,
        blockSize: parameters.blockSize,
        windowSize: parameters.windowSize,
        firstPacket: oack.length > 0 ? formatOack(oack) : formatAck(0),
        maxBytes: config.maxUploadBytes,
        dallyMs: Math.min(Math.max(3 * timing.timeoutMs, 1_000), 10_000),
        maxSendsUnanswered: MAX_SENDS_UNANSWERED,
        allowStrayReply: this.#allowStrayReply,
        busyPollMicros: config.busyPollMicros,
        signal: this.#stopping.signal,
        onCommitted: (result) => {
          this.#metrics.bytesIn += result.bytes;
          this.#logger.info(
            { peer: active.key, file: request.filename, bytes: result.bytes, ms: Math.round(result.durationMs), blksize: parameters.blockSize, windowsize: parameters.windowSize },
            `${transferName(active.key, request)} complete: ${formatBytes(result.bytes)} in ${Math.round(result.durationMs)} ms`,
          );
        },
      });
      active.abort = (reason) => engine.abort(reason);
      this.#logger.debug({ peer: active.key, file: request.filename, blksize: parameters.blockSize, windowsize: parameters.windowSize, netascii }, 'WRQ');
      await engine.start();
    } finally {
      await this.#ports.close(sockets);
    }
  }
}

export const tftpService: ServiceDefinition<TftpConfig> = {
  name: 'tftp',
  summary: 'TFTP server (RFC 1350 with blksize, timeout, tsize and windowsize), for PXE boot and firmware',
  configSchema: tftpConfigSchema,
  start: startTftp,
};

/** How the log names a transfer: `127.0.0.1:40000 RRQ "boot/pxelinux.0"` (the name quoted: a peer chooses it). */
function transferName(peer: string, request: RequestPacket): string {
  return `${peer} ${request.type} ${JSON.stringify(request.filename)}`;
}
